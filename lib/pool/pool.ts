/**
 * `BackpressurePool`: the engine with the piscina runner. Tasks wait in the engine's queue and are
 * handed to piscina only when piscina can start them at once, so piscina's queues (unfair to tasks
 * with an AbortSignal) are never used for waiting. See docs/queue-and-admission.md.
 */
import type { Piscina } from 'piscina'
import { Engine, type EngineHooks } from '../executor/engine.js'
import { checkRunName, type ExecutorSettings, type PriorityOption } from '../executor/options.js'
import type { Executor, ExecutorStats, SnapshotFields } from '../executor/types.js'
import { PiscinaRunner, type PoolCallExtra } from './runner.js'
import type { PiscinaOptions } from './piscina.js'

export type { PiscinaOptions }

/** The pool's state at one moment; its `concurrency` is ceil(maxThreads) × concurrentTasksPerWorker. */
export type PoolSnapshot = SnapshotFields & {
  /** Started threads running nothing (piscina `idleThreads`). */
  idleThreads: number
  /** Threads in the pool, starting or started. */
  threads: number
}

/** Lifetime counters (see `ExecutorStats` in lib/executor/types.ts for the invariant). */
export type PoolStats = ExecutorStats

/** The options of `app.pool.run(task, options)` and `request.runInPool(task, options)`. */
export interface PoolRunOptions extends PriorityOption {
  /** Aborts the task: removed from the queue if queued, its thread terminated if running. */
  signal?: AbortSignal | undefined
  /** Deadline in ms, counted from submission; 0 or `Infinity` disables. Default: the pool's `timeout`.
   * Anything else outside 0 … 2³¹ − 1 rejects the call with `FST_BACKPRESSURE_INVALID_OPTION`. */
  timeout?: number | undefined
  /** Name of the exported worker function to run (piscina `name`). */
  name?: string | undefined
  /** Objects to transfer rather than copy (piscina `transferList`). */
  transferList?: Parameters<Piscina['run']>[1] extends infer O ? O extends { transferList?: infer T } ? T : never : never
}

/** The pool plugin's options once normalised (plugins/pool/options.ts). */
export interface PoolSettings extends Omit<ExecutorSettings, 'maxQueue'> {
  /** What goes to piscina: its own options, with `filename` a path. Never `maxQueue` nor
   * `closeTimeout`: those are the pool's (its queue, its close), and piscina's own stay unused. */
  piscina: PiscinaOptions & { filename: string }
  /** Most tasks that may wait in the pool's queue: an integer >= 0, Infinity, or `'auto'`
   * (maxThreads², as piscina reads maxThreads). */
  maxQueue: number | 'auto'
}

/** The pool's events: `app.pool.on(event, listener)`. */
export interface PoolEvents {
  busy: [snapshot: PoolSnapshot]
  free: [snapshot: PoolSnapshot]
  /** The pool went down: `reason` is `'closing'` or why threads can no longer start. Once per pool. */
  down: [reason: string, snapshot: PoolSnapshot]
  /** A task started on a thread `waitMs` after its `run()` (the pool's queue plus piscina's). */
  dispatch: [waitMs: number]
  /** piscina reported an error outside any task (for example a thread failing while idle). */
  error: [error: Error]
}

/** What a task run without options carries: one object for all of them. */
const NO_EXTRA: PoolCallExtra = Object.freeze({ name: null, transferList: undefined })

export class BackpressurePool extends Engine<unknown, PoolCallExtra, PoolEvents> implements Executor {
  /** Its name among the executors the probe and the agent read. */
  readonly name = 'pool'
  /** The pool always counts in the probe and the agent's answer. */
  readonly affectsProbe = true
  /** The underlying piscina instance, for what this wrapper does not cover. */
  readonly piscina: Piscina

  constructor (settings: PoolSettings, hooks: EngineHooks = {}) {
    const { piscina, maxQueue, ...engine } = settings
    let runner: PiscinaRunner | undefined
    super({
      ...engine,
      // 'auto': maxThreads², as piscina reads maxThreads (its default depends on the machine).
      maxQueue: maxQueue === 'auto' ? () => (runner as PiscinaRunner).piscina.options.maxThreads ** 2 : maxQueue,
      ...hooks
    }, (host) => (runner = new PiscinaRunner(piscina, host)))
    this.piscina = (runner as PiscinaRunner).piscina
  }

  override snapshot (): PoolSnapshot {
    const { busy, queued, running, completed, failed } = this.engineSnapshot()
    return { busy, queued, idleThreads: this.piscina.idleThreads, threads: this.piscina.threads.length, running, completed, failed, concurrency: this.concurrency }
  }

  /**
   * Runs `task` on a worker thread. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_QUEUE_WAIT_EXCEEDED`, `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (original error as
   * `cause`), `_WORKER_CRASHED`, `_CLOSED`, `_POOL_DOWN`, or `_INVALID_OPTION` for bad options
   * (then nothing is counted).
   */
  run<Result = unknown> (task: unknown, options?: PoolRunOptions): Promise<Result> {
    if (options === undefined) return this.submit(task, NO_EXTRA, undefined)
    let name: string | null
    try {
      name = checkRunName(options?.name)
    } catch (error) {
      return Promise.reject(error)
    }
    return this.submit(task, { name, transferList: options?.transferList }, options)
  }

  /**
   * Stops accepting tasks; queued tasks (the pool's own queue included) and running ones run to the
   * end, bounded by `closeTimeout`; then the threads stop. Past the bound, tasks still queued or
   * running are rejected with `FST_BACKPRESSURE_CLOSED`. Calling it again returns the same promise.
   */
  override async close (): Promise<void> {
    await super.close()
  }
}
