/**
 * One readiness state for the whole process, so that the probe, the agent, the metrics and the
 * dashboard cannot disagree. `STATE_TABLE` is the one place that says what each state answers:
 * answer.ts and lib/haproxy/agent-reply.ts must compute from it and nothing else. Draining outranks
 * down because closing the app closes the pool, and a shutdown is not an outage. Busy is never
 * polled: this only reads each executor's flag.
 */
import type { Executor } from '../executor/types.js'

export const PROBE_STATES = ['starting', 'free', 'busy', 'not-ready', 'draining', 'down'] as const
export type ProbeState = typeof PROBE_STATES[number]

/** What the agent says for a state: the admin word on an `up` line, or `down`. */
export type AgentVerdict = 'ready' | 'drain' | 'down'

/**
 * What puts the process in a state other than `free`. The agent names the cause after `#`: the
 * executor's name (`executor-busy`, `executor-down`), `under-pressure`, the app's own reason
 * (`app`), or the check's name, never its error's text (`check`); `starting` and `draining` have
 * no name.
 */
export type CauseKind = 'starting' | 'executor-busy' | 'under-pressure' | 'app' | 'check' | 'draining' | 'executor-down'

export interface StateRow {
  /** The probe answers 200 (true) or `unavailableStatusCode` (false); its body is the state's name. */
  readonly probeOk: boolean
  /** The agent's words: `up ready`, `up drain`, or `down` (HAProxy marks the server DOWN at once). */
  readonly agent: AgentVerdict
  /** The agent's weight: `load`, the executors' free share (lib/haproxy/agent-reply.ts); `floor`,
   * `agent.minWeight`, so the weight never tells HAProxy "room" while the probe says busy; `none`
   * on a `down` line. */
  readonly weight: 'load' | 'floor' | 'none'
  /** What can cause the state. The agent's line ends with `#<state>`, followed by `: <names>` when
   * the causes have names (`#busy: pool`, `#not-ready: db`); `free` has no cause and no `#`. */
  readonly causes: readonly CauseKind[]
}

/** The one table, with examples of each row in docs/readiness.md ("One state, six values"). */
export const STATE_TABLE: Readonly<Record<ProbeState, StateRow>> = {
  starting: { probeOk: false, agent: 'drain', weight: 'load', causes: ['starting'] },
  free: { probeOk: true, agent: 'ready', weight: 'load', causes: [] },
  busy: { probeOk: false, agent: 'ready', weight: 'floor', causes: ['executor-busy', 'under-pressure'] },
  'not-ready': { probeOk: false, agent: 'drain', weight: 'load', causes: ['app', 'check'] },
  draining: { probeOk: false, agent: 'drain', weight: 'load', causes: ['draining'] },
  down: { probeOk: false, agent: 'down', weight: 'none', causes: ['executor-down'] }
}

export const UNDER_PRESSURE = 'under-pressure'

export type ReadinessExecutor = Pick<Executor, 'name' | 'busy' | 'down' | 'affectsProbe' | 'concurrency' | 'snapshot'>

export interface ReadinessOptions {
  /** The executors to read; called on every read, so executors added later count. */
  executors: () => readonly ReadinessExecutor[]
  /** Another source of "busy" (for example @fastify/under-pressure's `isUnderPressure`). */
  underPressure?: (() => boolean) | undefined
}

/** A reason the process is not ready: its name, and for a check the error's text. */
interface NotReady {
  readonly name: string
  readonly error: string | undefined
}

/** The app's own reason is kept under this key; dependency checks under `check:<name>`. */
const APP_KEY = 'app'
const checkKey = (name: string): string => `check:${name}`

export class Readiness {
  readonly #options: ReadinessOptions
  #started = false
  #draining = false
  /** Why the process is not ready, by source, in the order they were set. */
  readonly #notReady = new Map<string, NotReady>()

  constructor (options: ReadinessOptions) {
    this.#options = options
  }

  /** The current state. Precedence, highest first: draining, down, starting, not-ready, busy, free. */
  state (): ProbeState {
    if (this.#draining) return 'draining'
    if (this.#downExecutor() !== undefined) return 'down'
    if (!this.#started) return 'starting'
    if (this.#notReady.size > 0) return 'not-ready'
    return this.#busy() ? 'busy' : 'free'
  }

  /**
   * What the agent sends after `#`: the state and the names of its causes (`busy: pool`,
   * `not-ready: cache warming, db`, `down: pool`, `starting`, `draining`); undefined when `free`.
   * Names only: a failing check's error text is in `checkErrors()`.
   */
  reason (): string | undefined {
    const state = this.state()
    if (state === 'free') return undefined
    const names = this.#causeNames(state)
    return names.length === 0 ? state : `${state}: ${names.join(', ')}`
  }

  /** Each failing check's error text, by check name (for the log's readers and verbose answers to allowed sources). */
  checkErrors (): Record<string, string> {
    const errors: Record<string, string> = {}
    for (const { name, error } of this.#notReady.values()) {
      if (error !== undefined) errors[name] = error
    }
    return errors
  }

  get draining (): boolean {
    return this.#draining
  }

  markStarted (): void {
    this.#started = true
  }

  /** Enters `draining`, for good. Returns false if it already was. */
  startDraining (): boolean {
    if (this.#draining) return false
    this.#draining = true
    return true
  }

  /** The app marks the process not ready for `reason` (sent to the balancers as it is). */
  setNotReady (reason: string): void {
    this.#notReady.set(APP_KEY, { name: reason, error: undefined })
  }

  /** Clears the app's own reason. */
  setReady (): void {
    this.#notReady.delete(APP_KEY)
  }

  checkFailed (name: string, error: string): void {
    this.#notReady.set(checkKey(name), { name, error })
  }

  checkPassed (name: string): void {
    this.#notReady.delete(checkKey(name))
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

  #causeNames (state: ProbeState): string[] {
    const executors = this.#options.executors()
    switch (state) {
      case 'busy': {
        const names = executors.filter((executor) => executor.busy && executor.affectsProbe).map((executor) => executor.name)
        if (this.#options.underPressure?.() === true) names.push(UNDER_PRESSURE)
        return names
      }
      case 'not-ready': return [...this.#notReady.values()].map((entry) => entry.name)
      case 'down': return executors.filter((executor) => executor.down).map((executor) => executor.name)
      default: return []
    }
  }
}
