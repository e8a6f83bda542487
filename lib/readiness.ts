/**
 * One readiness state for the whole process, read by the probe, the agent, the metrics and the
 * dashboard, so that no two of them can disagree.
 *
 * | state       | when                                                                   | probe                 | agent-check                       |
 * |-------------|------------------------------------------------------------------------|-----------------------|-----------------------------------|
 * | `starting`  | until the app is ready (the pool has loaded its worker)                | unavailableStatusCode | `up drain … #starting`            |
 * | `free`      | serving, every executor has room                                       | 200                   | `up ready W% maxconn:N`           |
 * | `busy`      | an executor has more queued than free slots, or under-pressure says so | unavailableStatusCode | `up ready W% maxconn:N` (W low)   |
 * | `not-ready` | `setNotReady(reason)`, or a dependency check failing                   | unavailableStatusCode | `up drain … #not-ready: <reason>` |
 * | `draining`  | `drain()`, a signal, or `app.close()`                                  | unavailableStatusCode | `up drain …`                      |
 * | `down`      | an executor cannot run tasks (worker threads fail to start)            | unavailableStatusCode | `down … #<reason>`                |
 *
 * Precedence, highest first: draining, down, starting, not-ready, busy, free. Draining comes first
 * because closing the app closes the pool, and a shutdown is not an outage.
 *
 * Busy is never polled: each executor knows it at every moment (its busy/free transitions are
 * computed where the queue changes), and this only reads the flags.
 */
import type { Executor } from './executor.js'

export const PROBE_STATES = ['starting', 'free', 'busy', 'not-ready', 'draining', 'down'] as const
export type ProbeState = typeof PROBE_STATES[number]

/** What the agent says for a state: the admin word on an `up` line, or `down`. */
export type AgentVerdict = 'ready' | 'drain' | 'down'

/** The one table that maps a state to the probe's answer and the agent's verdict. */
export const STATE_TABLE: Readonly<Record<ProbeState, { readonly probeOk: boolean, readonly agent: AgentVerdict }>> = {
  starting: { probeOk: false, agent: 'drain' },
  free: { probeOk: true, agent: 'ready' },
  busy: { probeOk: false, agent: 'ready' },
  'not-ready': { probeOk: false, agent: 'drain' },
  draining: { probeOk: false, agent: 'drain' },
  down: { probeOk: false, agent: 'down' }
}

/** What readiness reads of an executor (the pool, a lane). */
export type ReadinessExecutor = Pick<Executor, 'name' | 'busy' | 'down' | 'affectsProbe' | 'concurrency' | 'snapshot'>

export interface ReadinessOptions {
  /** The executors to read; called on every read, so executors added later count. */
  executors: () => readonly ReadinessExecutor[]
  /** Another source of "busy" (for example @fastify/under-pressure's `isUnderPressure`). */
  underPressure?: (() => boolean) | undefined
}

/** The app's own reasons use this key; dependency checks use `check:<name>`. */
const APP_REASON_KEY = 'app'

export class Readiness {
  readonly #options: ReadinessOptions
  #started = false
  #draining = false
  /** Why the process is not ready, by source, in the order they were set. */
  readonly #notReady = new Map<string, string>()

  constructor (options: ReadinessOptions) {
    this.#options = options
  }

  /** The current state (see the table above). */
  state (): ProbeState {
    if (this.#draining) return 'draining'
    if (this.#downExecutor() !== undefined) return 'down'
    if (!this.#started) return 'starting'
    if (this.#notReady.size > 0) return 'not-ready'
    return this.#busy() ? 'busy' : 'free'
  }

  /** Why the state is what it is, for `starting`, `not-ready` and `down`; undefined otherwise. */
  reason (): string | undefined {
    const state = this.state()
    if (state === 'down') return `${(this.#downExecutor() as ReadinessExecutor).name} down`
    if (state === 'not-ready') return [...this.#notReady.values()].join(', ')
    if (state === 'starting') return 'starting'
    return undefined
  }

  get draining (): boolean {
    return this.#draining
  }

  /** The app is ready: leaves `starting`. */
  markStarted (): void {
    this.#started = true
  }

  /** Enters `draining`, for good. Returns false if it already was. */
  startDraining (): boolean {
    if (this.#draining) return false
    this.#draining = true
    return true
  }

  /** Marks the process not ready for `reason`, under `key` (one per source). */
  setNotReady (reason: string, key = APP_REASON_KEY): void {
    this.#notReady.set(key, reason)
  }

  /** Clears the reason set under `key`. */
  setReady (key = APP_REASON_KEY): void {
    this.#notReady.delete(key)
  }

  /** Each executor's load and concurrency, for the agent's weight and `maxconn`. An executor with
   * `affectsProbe: false` is left out: the balancer never hears of it. */
  load (): { executors: Array<{ queued: number, running: number, concurrency: number }> } {
    const executors = []
    for (const executor of this.#options.executors()) {
      if (!executor.affectsProbe) continue
      const { queued, running } = executor.snapshot()
      executors.push({ queued, running, concurrency: executor.concurrency })
    }
    return { executors }
  }

  /** Every executor's snapshot, by name (for verbose answers and the dashboard). */
  snapshots (): Record<string, ReturnType<ReadinessExecutor['snapshot']>> {
    const result: Record<string, ReturnType<ReadinessExecutor['snapshot']>> = {}
    for (const executor of this.#options.executors()) result[executor.name] = executor.snapshot()
    return result
  }

  #busy (): boolean {
    for (const executor of this.#options.executors()) {
      if (executor.busy && executor.affectsProbe) return true
    }
    return this.#options.underPressure?.() === true
  }

  #downExecutor (): ReadinessExecutor | undefined {
    for (const executor of this.#options.executors()) {
      if (executor.down) return executor
    }
    return undefined
  }
}
