/**
 * `Lane`: the engine with the async runner, a bounded gate for async work on the main thread, busy
 * as the pool is (more tasks queued than free slots). A hung upstream holds no thread and leaves the
 * event loop idle, so only a lane notices it: its tasks stop finishing. See docs/lanes.md.
 * A stopped task rejects at once, but its slot stays taken until the function settles: until then
 * it still holds whatever it was using.
 */
import type { AdaptiveLimitOptions } from './adaptive.js'
import { Engine, type EngineHooks } from '../executor/engine.js'
import type { ExecutorSettings, PriorityOption } from '../executor/options.js'
import { InvalidOptionError } from '../errors.js'
import type { Executor, ExecutorStats, SnapshotFields } from '../executor/types.js'
import { AsyncRunner, type LaneTask } from './runner.js'
import { describeValue } from '../options.js'

export type { LaneTask }

/** A lane's state at one moment (an adaptive concurrency moves). */
export type LaneSnapshot = SnapshotFields & {
  /** Slots taken: running tasks, plus stopped tasks whose function has not returned yet. */
  active: number
}

export type LaneStats = ExecutorStats

/** The options of `app.lanes.<name>.run(fn, options)` and `request.runInLane(name, fn, options)`. */
export interface LaneRunOptions extends PriorityOption {
  /** Stops the task: removed from the queue if queued; its signal fires if running. */
  signal?: AbortSignal | undefined
  /** Deadline in ms counted from submission; 0 or Infinity: none. Default: the lane's `timeout`. */
  timeout?: number | undefined
}

/** One lane's options once normalised (plugins/lanes/options.ts). */
export interface LaneSettings extends ExecutorSettings {
  /** The lane's name (metrics label, probe, `app.lanes.<name>`). */
  name: string
  /** Tasks run at once: a positive integer, or adaptive bounds. */
  concurrency: number | { adaptive: AdaptiveLimitOptions }
  /** Whether the lane's busy state counts in the probe and the agent. */
  affectsProbe: boolean
}

/** A lane's events: `app.lanes.<name>.on(event, listener)`. */
export interface LaneEvents {
  busy: [snapshot: LaneSnapshot]
  free: [snapshot: LaneSnapshot]
  /** The lane is closing (`reason` `'closing'`). Once per lane. */
  down: [reason: string, snapshot: LaneSnapshot]
  /** The concurrency changed (adaptive lanes). */
  concurrency: [concurrency: number]
  /** A task started `waitMs` after its `run()`. */
  dispatch: [waitMs: number]
}

export class Lane extends Engine<LaneTask<unknown>, undefined, LaneEvents> implements Executor {
  readonly name: string
  readonly affectsProbe: boolean

  constructor (settings: LaneSettings, hooks: EngineHooks = {}) {
    const { name, concurrency, affectsProbe, ...engine } = settings
    super({
      ...engine,
      ...hooks
    }, () => new AsyncRunner(name, concurrency))
    this.name = name
    this.affectsProbe = affectsProbe
  }

  override snapshot (): LaneSnapshot {
    return { ...this.engineSnapshot(), active: this.active }
  }

  /**
   * Runs `fn(signal)` when a slot is free. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_QUEUE_WAIT_EXCEEDED`, `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (what `fn` threw as
   * `cause`, whatever it was, `null` included), `_CLOSED`, or `_INVALID_OPTION` for bad options
   * (then nothing is counted).
   */
  run<Result> (fn: LaneTask<Result>, options?: LaneRunOptions): Promise<Result> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidOptionError('run.fn', 'a function', describeValue(fn)))
    return this.submit(fn, undefined, options)
  }

  /**
   * Stops accepting tasks; queued and running ones finish, bounded by `closeTimeout`. Past the
   * bound, queued tasks are refused and running ones are rejected (`_CLOSED`) with their signal
   * fired. Calling it again returns the same promise.
   */
  override close (): Promise<void> {
    return super.close()
  }
}
