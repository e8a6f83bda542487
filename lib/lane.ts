/**
 * `Lane`: a bounded concurrency gate for async functions on the main thread (calls to an upstream
 * service, a database, anything awaited), with the same meaning of busy as the worker pool: **more
 * calls queued than free slots**. A hung upstream holds no thread and leaves the event loop idle, so
 * nothing else in the process notices it; a lane does, because its calls stop finishing.
 *
 * It is the engine the pool runs on (lib/core/engine.ts: the queue by priority and its `maxQueue`,
 * queue-wait admission, per-call option checks, deadlines counted from submission, the accounting
 * and its invariant, busy tracking with flap damping, close) with the async executor
 * (lib/executors/async-executor.ts). Its limit is fixed, or adaptive (lib/adaptive-limit.ts), in
 * which case it emits `'capacity'` each time the limit changes.
 *
 * Each call receives an AbortSignal that fires on its deadline, on the caller's abort, and when the
 * lane closes past its bound. A stopped call rejects at once; its slot stays taken until the
 * function actually settles, because until then it still holds whatever it was using.
 */
import type { AdaptiveLimitOptions } from './adaptive-limit.js'
import type { CodelOptions } from './codel.js'
import { Engine, warnListenerError } from './core/engine.js'
import { DEFAULT_CLOSE_TIMEOUT_MS } from './core/executor-options.js'
import type { PriorityOption } from './core/run-options.js'
import { InvalidOptionError, describeValue } from './errors.js'
import type { Executor, ExecutorStats } from './executor.js'
import { AsyncExecutor, type LaneTask } from './executors/async-executor.js'
import type { DamperTimers, DwellTimes } from './flap-damper.js'

export type { LaneTask }

/** A lane's state at one moment. */
// A type, not an interface: its implicit index signature makes it an `ExecutorSnapshot`.
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions
export type LaneSnapshot = {
  busy: boolean
  /** Calls waiting for a slot. */
  queued: number
  /** Calls started and not settled. */
  running: number
  completed: number
  failed: number
  /** The current limit (calls run at once). */
  limit: number
  /** Slots taken: running calls, plus stopped calls whose function has not returned yet. */
  active: number
}

export type LaneStats = ExecutorStats

export interface LaneRunOptions extends PriorityOption {
  /** Stops the call: removed from the queue if queued; its signal fires if running. */
  signal?: AbortSignal | undefined
  /** Deadline in ms counted from submission; 0 or Infinity: none. Default: the lane's `timeout`. */
  timeout?: number | undefined
}

export interface LaneOptions {
  /** The lane's name (metrics label, probe, `app.lanes.<name>`). */
  name: string
  /** Calls run at once: a positive integer, or `{ adaptive: { min, max, initial? } }`. */
  concurrency: number | { adaptive: AdaptiveLimitOptions }
  /** Most calls that may wait. @default Infinity */
  maxQueue?: number | undefined
  /** Default deadline per call in ms, counted from submission; 0 = none. @default 0 */
  timeoutMs?: number | undefined
  /** How long `close()` lets queued and running calls finish, in ms (Infinity: no bound). @default 30000 */
  closeTimeoutMs?: number | undefined
  /** CoDel-style queue-wait admission; off when undefined. */
  admission?: CodelOptions | undefined
  /** Minimum dwell times before busy/free is reported. @default { toBusyMs: 0, toFreeMs: 0 } */
  dwell?: DwellTimes | undefined
  /** Timers for the flap damper (tests inject fake ones). */
  dwellTimers?: DamperTimers | undefined
  /** HTTP status of `_QUEUE_FULL` / `_QUEUE_WAIT_EXCEEDED`. @default 503 */
  rejectStatusCode?: 503 | 429 | undefined
  /** Whether the lane's busy state counts in the probe and the agent. @default true */
  affectsProbe?: boolean | undefined
  /** Called when a listener throws. @default process.emitWarning */
  onListenerError?: ((error: unknown) => void) | undefined
}

export interface LaneEvents {
  busy: [snapshot: LaneSnapshot]
  free: [snapshot: LaneSnapshot]
  down: [reason: string, snapshot: LaneSnapshot]
  /** The limit changed (adaptive lanes). */
  capacity: [capacity: number]
  /** A call started `waitMs` after its `run()`. */
  dispatch: [waitMs: number]
}

export class Lane extends Engine<LaneTask<unknown>, undefined, LaneEvents> implements Executor {
  readonly name: string
  readonly affectsProbe: boolean

  constructor (options: LaneOptions) {
    const { name, concurrency, maxQueue = Infinity, timeoutMs = 0, closeTimeoutMs = DEFAULT_CLOSE_TIMEOUT_MS, admission, dwell, dwellTimers } = options
    super({
      maxQueue,
      timeoutMs,
      closeTimeoutMs,
      admission,
      dwell: dwell ?? { toBusyMs: 0, toFreeMs: 0 },
      dwellTimers,
      rejectStatusCode: options.rejectStatusCode ?? 503,
      onListenerError: options.onListenerError ?? warnListenerError
    }, () => new AsyncExecutor(name, concurrency))
    this.name = name
    this.affectsProbe = options.affectsProbe ?? true
  }

  override snapshot (): LaneSnapshot {
    return { ...this.engineSnapshot(), limit: this.capacity, active: this.active }
  }

  /**
   * Runs `fn(signal)` when a slot is free. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_QUEUE_WAIT_EXCEEDED`, `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (what `fn` threw as
   * `cause`, whatever it was, `null` included), `_LANE_CLOSED`, or `_INVALID_OPTION` for bad options
   * (then nothing is counted).
   */
  run<Result> (fn: LaneTask<Result>, options?: LaneRunOptions): Promise<Result> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidOptionError('run.fn', 'a function', describeValue(fn)))
    return this.submit(fn, undefined, options)
  }

  /**
   * Stops accepting calls; queued and running ones finish, bounded by `closeTimeout`. Past the
   * bound, queued calls are refused and running ones are rejected (`_LANE_CLOSED`) with their
   * signal fired. Calling it again returns the same promise.
   */
  override close (): Promise<void> {
    return super.close()
  }
}
