/**
 * `BackpressurePool`: a piscina pool that knows, at every moment, whether it is busy, and says so
 * once per transition. Framework-free; the pool plugin decorates Fastify with one.
 *
 * What it adds to piscina:
 * - `busy` / `free` events, from `BusyTracker` (busy = more tasks queued than idle threads);
 * - `run(task, { signal, timeout })`, with a deadline counted from submission and every piscina
 *   failure mapped to a coded error (piscina's own errors carry no code: we match their messages);
 * - `snapshot()` and `stats()`: cheap, synchronous figures for probes and metrics;
 * - a `dispatch` event with each task's queue wait, for metrics and admission control.
 */
import { EventEmitter } from 'node:events'
import { Piscina } from 'piscina'
import { BusyTracker, type Transition } from './busy-tracker.js'
import { leastBusyBalancer, observeDispatch } from './dispatch-balancer.js'
import {
  PoolClosedError,
  QueueFullError,
  TaskAbortedError,
  TaskFailedError,
  TaskTimeoutError,
  WorkerCrashedError
} from './errors.js'

export type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>

/** The pool's state at one moment. Every field is read synchronously and cheaply. */
export interface PoolSnapshot {
  /** More tasks queued than idle threads. */
  busy: boolean
  /** Tasks waiting for a thread (piscina `queueSize`). */
  queued: number
  /** Started threads running nothing (piscina `idleThreads`). */
  idleThreads: number
  /** Threads in the pool, starting or started. */
  threads: number
  /** Tasks submitted through `run()` that have not settled and are not queued. */
  running: number
  /** Tasks that resolved. */
  completed: number
  /** Tasks that settled with an error, whatever the reason (see `stats()` for the breakdown). */
  failed: number
}

/** Lifetime counters. `submitted === completed + failed + inFlight` holds at every moment, and
 * `failed` is the sum of the reasons below it. */
export interface PoolStats {
  submitted: number
  completed: number
  failed: number
  inFlight: number
  /** Refused by the queue limit (`FST_BACKPRESSURE_QUEUE_FULL`) or because the pool was closing. */
  rejected: number
  aborted: number
  timedOut: number
  /** The worker function threw or rejected. */
  errored: number
  /** The worker thread exited mid-task. */
  crashed: number
  transitions: { busy: number, free: number }
}

export interface RunOptions {
  /** Aborts the task: removed from the queue if queued, its thread terminated if running. */
  signal?: AbortSignal | undefined
  /** Deadline in ms, counted from submission; 0 disables. Default: the pool's `timeout`. */
  timeout?: number | undefined
  /** Name of the exported worker function to run (piscina `name`). */
  name?: string | undefined
  /** Objects to transfer rather than copy (piscina `transferList`). */
  transferList?: Parameters<Piscina['run']>[1] extends infer O ? O extends { transferList?: infer T } ? T : never : never
}

export interface BackpressurePoolOptions extends PiscinaOptions {
  /** Default per-task deadline in ms, counted from submission; 0 (the default) means none. */
  timeout?: number
  /** Called when a `busy`/`free` listener throws, so that a faulty listener never breaks `run()`. */
  onListenerError?: (error: unknown) => void
}

export interface BackpressurePoolEvents {
  busy: [snapshot: PoolSnapshot]
  free: [snapshot: PoolSnapshot]
  /** A task left the queue for a thread after waiting `waitMs`. */
  dispatch: [waitMs: number]
  /** piscina reported an error outside any task (for example a thread failing while idle). */
  error: [error: Error]
}

// piscina's failure messages (5.3). piscina errors have no `code`, so the message is the contract.
const QUEUE_FULL_MESSAGES = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy'])
const CLOSED_MESSAGES = new Set(['Terminating worker thread', 'queue is being terminated'])
const WORKER_EXIT_PREFIX = 'worker exited with code'

export class BackpressurePool extends EventEmitter<BackpressurePoolEvents> {
  /** The underlying piscina instance, for what this wrapper does not cover. */
  readonly piscina: Piscina
  readonly #tracker: BusyTracker
  readonly #defaultTimeout: number
  readonly #onListenerError: (error: unknown) => void
  readonly #recomputeSoon = (): void => { queueMicrotask(this.#recompute) }
  readonly #recompute = (): void => { this.#tracker.recompute() }
  #closing = false
  #submitted = 0
  #completed = 0
  #rejected = 0
  #aborted = 0
  #timedOut = 0
  #errored = 0
  #crashed = 0

  constructor (options: BackpressurePoolOptions) {
    super()
    const { timeout = 0, onListenerError = defaultListenerError, loadBalancer, ...piscinaOptions } = options
    this.#defaultTimeout = timeout
    this.#onListenerError = onListenerError
    const balancer = loadBalancer ?? leastBusyBalancer(piscinaOptions.concurrentTasksPerWorker ?? 1)
    this.piscina = new Piscina({
      ...piscinaOptions,
      loadBalancer: observeDispatch(balancer, (waitMs) => { this.emit('dispatch', waitMs) })
    })
    this.#tracker = new BusyTracker(this.piscina, (to) => { this.#notify(to) })
    // A worker that starts or stops changes idleThreads; piscina updates its bookkeeping after the
    // event returns, hence the microtask.
    this.piscina.on('workerCreate', this.#recomputeSoon)
    this.piscina.on('workerDestroy', this.#recomputeSoon)
    // An unhandled 'error' emit would throw from inside piscina; forward it to our listeners.
    this.piscina.on('error', (error: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error)
      else this.#onListenerError(error)
    })
  }

  /** More tasks queued than idle threads. */
  get busy (): boolean {
    return this.#tracker.busy
  }

  /** True once `close()` has been called. */
  get closing (): boolean {
    return this.#closing
  }

  snapshot (): PoolSnapshot {
    const queued = this.piscina.queueSize
    const settled = this.#completed + this.#failedCount()
    return {
      busy: this.#tracker.busy,
      queued,
      idleThreads: this.piscina.idleThreads,
      threads: this.piscina.threads.length,
      running: Math.max(0, this.#submitted - settled - queued),
      completed: this.#completed,
      failed: this.#failedCount()
    }
  }

  stats (): PoolStats {
    const failed = this.#failedCount()
    return {
      submitted: this.#submitted,
      completed: this.#completed,
      failed,
      inFlight: this.#submitted - this.#completed - failed,
      rejected: this.#rejected,
      aborted: this.#aborted,
      timedOut: this.#timedOut,
      errored: this.#errored,
      crashed: this.#crashed,
      transitions: { ...this.#tracker.transitions }
    }
  }

  /**
   * Runs `task` on a worker thread. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (original error as `cause`), `_WORKER_CRASHED`
   * or `_POOL_CLOSED`.
   */
  run<Result = unknown> (task: unknown, options: RunOptions = {}): Promise<Result> {
    this.#submitted++
    if (this.#closing) {
      this.#rejected++
      return Promise.reject(new PoolClosedError())
    }
    const timeout = options.timeout ?? this.#defaultTimeout
    let signal = options.signal
    let deadline: AbortController | undefined
    let timer: NodeJS.Timeout | undefined
    if (timeout > 0) {
      deadline = new AbortController()
      const controller = deadline
      timer = setTimeout(() => { controller.abort() }, timeout)
      // The task itself keeps the process alive while it runs; the deadline timer need not.
      timer.unref()
      signal = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal])
    }
    const pending = this.piscina.run(task, { signal: signal ?? null, name: options.name ?? null, transferList: options.transferList })
    this.#tracker.recompute()
    return pending.then(
      (result: Result) => {
        clearTimeout(timer)
        this.#completed++
        this.#tracker.recompute()
        return result
      },
      (error: unknown) => {
        clearTimeout(timer)
        const mapped = this.#classify(error, deadline?.signal.aborted === true, timeout)
        this.#tracker.recompute()
        throw mapped
      }
    )
  }

  /**
   * Stops accepting tasks, lets queued and running tasks finish, then stops the threads. piscina's
   * `closeTimeout` bounds the wait; past it piscina destroys the threads and the remaining tasks
   * reject with `FST_BACKPRESSURE_POOL_CLOSED`.
   */
  async close (): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    await this.piscina.close()
    this.#tracker.recompute()
  }

  #failedCount (): number {
    return this.#rejected + this.#aborted + this.#timedOut + this.#errored + this.#crashed
  }

  #classify (error: unknown, deadlinePassed: boolean, timeout: number): Error {
    const message = error instanceof Error ? error.message : ''
    if (error instanceof Error && error.name === 'AbortError') {
      if (deadlinePassed) {
        this.#timedOut++
        return new TaskTimeoutError(timeout, { cause: error })
      }
      if (CLOSED_MESSAGES.has(String(error.cause))) {
        this.#rejected++
        return new PoolClosedError({ cause: error })
      }
      this.#aborted++
      return new TaskAbortedError({ cause: error })
    }
    if (QUEUE_FULL_MESSAGES.has(message)) {
      this.#rejected++
      return new QueueFullError({ cause: error })
    }
    if (CLOSED_MESSAGES.has(message) || message === 'Close operation timed out') {
      this.#rejected++
      return new PoolClosedError({ cause: error })
    }
    if (message.startsWith(WORKER_EXIT_PREFIX)) {
      this.#crashed++
      return new WorkerCrashedError({ cause: error })
    }
    this.#errored++
    return new TaskFailedError({ cause: error })
  }

  /** Calls each listener on its own, so one that throws neither breaks `run()` nor starves the rest. */
  #notify (to: Transition): void {
    const snapshot = this.snapshot()
    for (const listener of this.listeners(to)) {
      try {
        (listener as (snapshot: PoolSnapshot) => void)(snapshot)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }
}

function defaultListenerError (error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)))
}
