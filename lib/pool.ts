/**
 * `BackpressurePool`: a piscina pool that knows, at every moment, whether it is busy, and says so
 * once per transition. Framework-free; the pool plugin decorates Fastify with one.
 *
 * What it adds to piscina:
 * - its own FIFO queue: a task is handed to piscina only when piscina can start it at once, so
 *   piscina's queues (and their unfairness to tasks with an AbortSignal) are never used for waiting;
 * - `busy` / `free` events, from `BusyTracker` (busy = more tasks queued than idle threads),
 *   optionally damped by minimum dwell times (`FlapDamper`);
 * - `run(task, { signal, timeout })`, with a deadline counted from submission and every failure
 *   mapped to a coded error (piscina's own errors carry no code: we match their messages);
 * - `maxQueue` and optional CoDel-style queue-wait admission (`QueueDelayController`) on that queue;
 * - `down`: the pool can no longer start threads, or is closing;
 * - `snapshot()` and `stats()`: cheap, synchronous figures for probes and metrics;
 * - a `dispatch` event with each task's queue wait, for metrics.
 */
import { EventEmitter } from 'node:events'
import { Piscina } from 'piscina'
import { BusyTracker, type QueueSource } from './busy-tracker.js'
import { QueueDelayController, type CodelOptions } from './codel.js'
import { leastBusyBalancer, observeDispatch, type BalancerTask } from './dispatch-balancer.js'
import { FlapDamper, type DamperTimers, type DwellTimes } from './flap-damper.js'
import {
  PoolClosedError,
  PoolDownError,
  QueueFullError,
  QueueWaitExceededError,
  TaskAbortedError,
  TaskFailedError,
  TaskTimeoutError,
  WorkerCrashedError
} from './errors.js'

export type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>

/** The pool's state at one moment. Every field is read synchronously and cheaply. */
export interface PoolSnapshot {
  /** More tasks queued than idle threads (as reported: after flap damping, when enabled). */
  busy: boolean
  /** Tasks waiting for a thread: in the pool's own queue, plus those piscina holds for a thread
   * (its `queueSize`, which leaves out tasks waiting for a thread that is starting). */
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
 * `failed === rejected + shed + aborted + timedOut + errored + crashed`. */
export interface PoolStats {
  submitted: number
  completed: number
  failed: number
  inFlight: number
  /** Refused before queuing: queue full (`_QUEUE_FULL`), pool closing (`_POOL_CLOSED`) or down (`_POOL_DOWN`). */
  rejected: number
  /** Shed by queue-wait admission (`_QUEUE_WAIT_EXCEEDED`). */
  shed: number
  /** The caller's signal fired (`_TASK_ABORTED`). */
  aborted: number
  /** The deadline passed, queued or running (`_TASK_TIMEOUT`). */
  timedOut: number
  /** The worker function threw or rejected (`_TASK_FAILED`). */
  errored: number
  /** The worker thread exited mid-task (`_WORKER_CRASHED`). */
  crashed: number
  /** Reported transitions (after flap damping, when enabled). */
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
  /** Most tasks that may wait in the pool's queue: a positive integer, `Infinity` (the default) or
   * `'auto'` (maxThreads²). Enforced by the pool; piscina itself never queues more than it can start. */
  maxQueue?: number | 'auto'
  /** Default per-task deadline in ms, counted from submission; 0 (the default) means none. */
  timeout?: number
  /** CoDel-style queue-wait admission (see `lib/codel.ts` for the rule); off when undefined. */
  admission?: CodelOptions | undefined
  /** Minimum dwell times before a change of busy/free is reported; both 0 (the default) = off. */
  dwell?: DwellTimes | undefined
  /** Timers for the flap damper (tests inject fake ones). */
  dwellTimers?: DamperTimers | undefined
  /** HTTP status carried by `_QUEUE_FULL` and `_QUEUE_WAIT_EXCEEDED` errors: 503 (default) or 429. */
  rejectStatusCode?: 503 | 429
  /** Called when a `busy`/`free`/`down` listener throws, so that a faulty listener never breaks `run()`. */
  onListenerError?: (error: unknown) => void
}

export interface BackpressurePoolEvents {
  busy: [snapshot: PoolSnapshot]
  free: [snapshot: PoolSnapshot]
  /** The pool went down: `reason` is `'closing'` or why threads can no longer start. Once per pool. */
  down: [reason: string, snapshot: PoolSnapshot]
  /** A task started on a thread `waitMs` after its `run()` (the pool's queue plus piscina's). */
  dispatch: [waitMs: number]
  /** piscina reported an error outside any task (for example a thread failing while idle). */
  error: [error: Error]
}

// piscina's failure messages (5.3). piscina errors have no `code`, so the message is the contract.
/** `destroy()` rejects every task still in piscina with this. */
const TERMINATED_MESSAGE = 'Terminating worker thread'
const WORKER_EXIT_PREFIX = 'worker exited with code'
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000

type StopReason = 'caller' | 'timeout' | 'shed'

/** One `run()`, from submission to settlement. */
interface Job {
  readonly task: unknown
  readonly name: string | null
  readonly transferList: RunOptions['transferList']
  readonly timeoutMs: number
  readonly submittedAt: number
  readonly resolve: (result: unknown) => void
  readonly reject: (error: Error) => void
  /** Given to piscina only when the task may have to stop while running (a deadline or a caller
   * signal): piscina gives a task with a signal a thread to itself, and kills that thread to stop it. */
  readonly controller: AbortController | undefined
  readonly callerSignal: AbortSignal | undefined
  readonly onCallerAbort: () => void
  deadline: NodeJS.Timeout | undefined
  stopReason: StopReason | undefined
  /** In piscina's hands (no longer in the pool's own queue). */
  handedOff: boolean
  /** `performance.now()` just before and just after `piscina.run()`: piscina stamps the task's
   * `created` synchronously in between, which is how a later dispatch is matched to its job. */
  handedAt: number
  handedBy: number
}

export class BackpressurePool extends EventEmitter<BackpressurePoolEvents> {
  /** The underlying piscina instance, for what this wrapper does not cover. */
  readonly piscina: Piscina
  readonly #tracker: BusyTracker
  readonly #damper: FlapDamper
  readonly #codel: QueueDelayController | undefined
  readonly #defaultTimeout: number
  readonly #closeTimeout: number
  readonly #maxQueue: number
  /** Tasks piscina can start at once: a handoff beyond it would wait in piscina's queues. */
  readonly #capacity: number
  readonly #rejectStatusCode: number
  readonly #onListenerError: (error: unknown) => void
  /** The pool's own queue, FIFO: a Set iterates in insertion order and deletes in O(1). */
  readonly #queue = new Set<Job>()
  /** Jobs handed to piscina and not dispatched to a thread yet (at most `#capacity`). */
  readonly #awaitingThread = new Set<Job>()
  /** Jobs handed to piscina and not settled. */
  #inPiscina = 0
  /** The queue head the admission timer is armed for. */
  #judgedHead: Job | undefined
  #admissionTimer: NodeJS.Timeout | undefined
  #closed: Promise<void> | undefined
  /** Resolves close()'s wait once nothing is in flight. */
  #onDrained: (() => void) | undefined
  #failure: string | undefined
  #submitted = 0
  #completed = 0
  #rejected = 0
  #shed = 0
  #aborted = 0
  #timedOut = 0
  #errored = 0
  #crashed = 0
  #transitions = { busy: 0, free: 0 }

  constructor (options: BackpressurePoolOptions) {
    super()
    const {
      timeout = 0, admission, dwell = { toBusyMs: 0, toFreeMs: 0 }, dwellTimers, rejectStatusCode = 503,
      onListenerError = defaultListenerError, loadBalancer, maxQueue, ...piscinaOptions
    } = options
    this.#defaultTimeout = timeout
    this.#closeTimeout = piscinaOptions.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS
    this.#rejectStatusCode = rejectStatusCode
    this.#onListenerError = onListenerError
    this.#codel = admission === undefined ? undefined : new QueueDelayController(admission)
    const balancer = loadBalancer ?? leastBusyBalancer(piscinaOptions.concurrentTasksPerWorker ?? 1)
    // maxQueue is not passed on: piscina never holds more than `#capacity` tasks.
    this.piscina = new Piscina({
      ...piscinaOptions,
      loadBalancer: observeDispatch(balancer, (waitMs, task) => { this.#onDispatch(waitMs, task) })
    })
    const { maxThreads, concurrentTasksPerWorker } = this.piscina.options
    this.#capacity = Math.ceil(maxThreads) * concurrentTasksPerWorker
    this.#maxQueue = maxQueue === 'auto' ? maxThreads ** 2 : maxQueue ?? Infinity
    this.#damper = new FlapDamper(dwell, (busy) => { this.#report(busy) }, dwellTimers)
    const piscina = this.piscina
    const queued = (): number => this.#queuedCount()
    const source: QueueSource = {
      get queueSize () { return queued() },
      get idleThreads () { return piscina.idleThreads }
    }
    this.#tracker = new BusyTracker(source, (to) => { this.#damper.update(to === 'busy') })
    // A worker that starts or stops changes idleThreads; piscina updates its bookkeeping after the
    // event returns, hence the microtask.
    this.piscina.on('workerCreate', this.#recomputeSoon)
    this.piscina.on('workerDestroy', this.#recomputeSoon)
    // An unhandled 'error' emit would throw from inside piscina; forward it to our listeners.
    this.piscina.on('error', (error: Error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error)
      else this.#onListenerError(error)
      queueMicrotask(this.#checkStranded)
    })
  }

  /** More tasks queued than idle threads (as reported: after flap damping, when enabled). */
  get busy (): boolean {
    return this.#damper.busy
  }

  /** True once `close()` has been called. */
  get closing (): boolean {
    return this.#closed !== undefined
  }

  /** True when the pool cannot run tasks: it is closing, or its threads fail to start. */
  get down (): boolean {
    return this.closing || this.#failure !== undefined
  }

  snapshot (): PoolSnapshot {
    const queued = this.#queuedCount()
    const failed = this.#failedCount()
    return {
      busy: this.#damper.busy,
      queued,
      idleThreads: this.piscina.idleThreads,
      threads: this.piscina.threads.length,
      running: Math.max(0, this.#submitted - this.#completed - failed - queued),
      completed: this.#completed,
      failed
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
      shed: this.#shed,
      aborted: this.#aborted,
      timedOut: this.#timedOut,
      errored: this.#errored,
      crashed: this.#crashed,
      transitions: { ...this.#transitions }
    }
  }

  /**
   * Runs `task` on a worker thread. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_QUEUE_WAIT_EXCEEDED`, `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (original error as
   * `cause`), `_WORKER_CRASHED`, `_POOL_CLOSED` or `_POOL_DOWN`.
   */
  run<Result = unknown> (task: unknown, options: RunOptions = {}): Promise<Result> {
    this.#submitted++
    if (this.#failure !== undefined || this.closing) {
      this.#rejected++
      return Promise.reject(this.#failure !== undefined ? new PoolDownError(this.#failure) : new PoolClosedError())
    }
    if (this.#queue.size >= this.#maxQueue) {
      this.#rejected++
      return Promise.reject(this.#rejectError(new QueueFullError()))
    }
    const callerSignal = options.signal
    if (callerSignal?.aborted === true) {
      this.#aborted++
      return Promise.reject(new TaskAbortedError({ cause: callerSignal.reason }))
    }
    const timeoutMs = options.timeout ?? this.#defaultTimeout
    return new Promise<Result>((resolve, reject) => {
      const job: Job = {
        task,
        name: options.name ?? null,
        transferList: options.transferList,
        timeoutMs,
        submittedAt: performance.now(),
        resolve: resolve as (result: unknown) => void,
        reject,
        controller: timeoutMs > 0 || callerSignal !== undefined ? new AbortController() : undefined,
        callerSignal,
        onCallerAbort: () => { this.#stop(job, 'caller') },
        deadline: undefined,
        stopReason: undefined,
        handedOff: false,
        handedAt: 0,
        handedBy: 0
      }
      if (timeoutMs > 0) {
        job.deadline = setTimeout(() => { this.#stop(job, 'timeout') }, timeoutMs)
        // The task itself keeps the process alive while it runs; the deadline timer need not.
        job.deadline.unref()
      }
      // A listener rather than AbortSignal.any(): the caller's signal may live much longer than the
      // task (a server-wide signal), and AbortSignal.any() keeps every composite alive with it.
      callerSignal?.addEventListener('abort', job.onCallerAbort, { once: true })
      this.#enqueue(job)
      this.#pump()
    })
  }

  /**
   * Stops accepting tasks; queued tasks (the pool's own queue included) and running ones run to the
   * end, bounded by `closeTimeout`; then the threads stop. Past the bound, tasks still queued or
   * running are rejected with `FST_BACKPRESSURE_POOL_CLOSED`. Calling it again returns the same promise.
   */
  async close (): Promise<void> {
    this.#closed ??= this.#shutDown()
    await this.#closed
  }

  /**
   * Not `piscina.close()`: in piscina 5.3.2 it can spin forever. While closing, `_addNewWorker()`
   * returns at once, yet `_onWorkerAvailable()` `continue`s its loop whenever a queued task finds
   * no free thread and fewer than maxThreads threads exist: the main thread burns 100% CPU and
   * nothing settles, not even a timer (caught with the inspector in test/pool-property.test.ts, and
   * reproduced on raw piscina by the scenario in test/lib/pool.test.ts). The pool knows when every
   * task has settled, so it waits for that itself and then destroys the threads.
   */
  async #shutDown (): Promise<void> {
    if (this.#failure === undefined) this.#emitDown('closing')
    if (this.#inFlightCount() > 0) {
      let bound: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#onDrained = resolve
        bound = setTimeout(resolve, this.#closeTimeout)
      })
      clearTimeout(bound)
      this.#onDrained = undefined
      // Past the bound: what still waits is refused; destroy() rejects what still runs.
      this.#refuseQueued(() => new PoolClosedError())
    }
    await this.piscina.destroy()
    this.#damper.dispose()
    clearTimeout(this.#admissionTimer)
    this.#tracker.recompute()
  }

  /** Hands jobs from the head of the queue to piscina while piscina can start them at once. */
  #pump (): void {
    if (this.#codel !== undefined) this.#admit(this.#codel)
    for (const job of this.#queue) {
      if (this.#inPiscina >= this.#capacity || this.#failure !== undefined) break
      this.#handOff(job)
    }
    this.#tracker.recompute()
  }

  #handOff (job: Job): void {
    this.#dequeue(job)
    job.handedOff = true
    this.#inPiscina++
    this.#awaitingThread.add(job)
    job.handedAt = performance.now()
    job.handedBy = Infinity // piscina may dispatch it synchronously, inside run()
    const pending = this.piscina.run(job.task, { signal: job.controller?.signal ?? null, name: job.name, transferList: job.transferList })
    job.handedBy = performance.now()
    pending.then(
      (result: unknown) => {
        this.#completed++
        this.#settled(job)
        job.resolve(result)
      },
      (error: unknown) => {
        const mapped = this.#classify(error, job)
        this.#settled(job)
        job.reject(mapped)
      }
    )
  }

  /** A job piscina settled: release it, refill piscina, recompute now, and again once piscina has
   * finished the step that settled it (it may still be replacing a thread when this runs). */
  #settled (job: Job): void {
    this.#inPiscina--
    this.#awaitingThread.delete(job)
    this.#release(job)
    this.#pump()
    queueMicrotask(this.#recompute)
    this.#checkDrained()
  }

  /** The caller's signal or the deadline fired, or admission shed the job. Still queued: it leaves
   * the queue and never reaches piscina. Handed off: piscina aborts it (a running task's thread is
   * terminated and replaced), and the job settles through `#classify`. */
  #stop (job: Job, reason: StopReason): void {
    job.stopReason = reason
    // Once stopped, neither the deadline nor the caller's signal may stop it again.
    this.#release(job)
    if (job.handedOff) {
      job.controller?.abort()
      return
    }
    this.#refuse(job, this.#stopError(job, reason))
    this.#tracker.recompute()
  }

  /** Settles a job that is still in the own queue (the caller has counted it). */
  #refuse (job: Job, error: Error): void {
    this.#dequeue(job)
    this.#release(job)
    job.reject(error)
    this.#checkDrained()
  }

  /** Rejects every job still in the own queue, counted as rejected (closed past the bound, or down). */
  #refuseQueued (error: () => Error): void {
    for (const job of this.#queue) {
      this.#rejected++
      this.#refuse(job, error())
    }
  }

  #release (job: Job): void {
    clearTimeout(job.deadline)
    job.callerSignal?.removeEventListener('abort', job.onCallerAbort)
  }

  #enqueue (job: Job): void {
    this.#queue.add(job)
    this.#codel?.queueLength(this.#queue.size, job.submittedAt)
  }

  #dequeue (job: Job): void {
    this.#queue.delete(job)
    this.#codel?.queueLength(this.#queue.size, performance.now())
  }

  /**
   * Queue-wait admission on the own queue: sheds from the head while the rule says so (the queue is
   * FIFO, so when the head may stay, every later job may too), then arms one timer for when the
   * head must be judged again, so a standing queue sheds even while no thread frees up.
   */
  #admit (codel: QueueDelayController): void {
    const now = performance.now()
    for (const job of this.#queue) {
      const verdict = codel.judge(job.submittedAt, now)
      if (verdict.shed) {
        this.#stop(job, 'shed')
        continue
      }
      if (job !== this.#judgedHead) {
        clearTimeout(this.#admissionTimer)
        this.#judgedHead = job
        this.#admissionTimer = setTimeout(this.#rejudge, verdict.recheckInMs)
        this.#admissionTimer.unref()
      }
      return
    }
  }

  readonly #rejudge = (): void => {
    this.#judgedHead = undefined
    this.#pump()
  }

  readonly #recompute = (): void => {
    this.#tracker.recompute()
    this.#checkStranded()
  }

  readonly #recomputeSoon = (): void => { queueMicrotask(this.#recompute) }

  /**
   * piscina stops replacing threads for the rest of the pool's life once one fails while starting
   * (piscina 5.3 `_onError`, `workerFailsDuringBootstrap`), and tasks queued then never settle.
   * When the last thread is gone while tasks wait, no thread will ever run them: the pool is down,
   * so it says so and rejects what waits rather than let requests hang.
   */
  readonly #checkStranded = (): void => {
    if (this.closing || this.#failure !== undefined) return
    if (this.piscina.threads.length > 0 || this.#queuedCount() === 0) return
    this.#failure = 'worker threads fail to start'
    this.#emitDown(this.#failure)
    const reason = this.#failure
    this.#refuseQueued(() => new PoolDownError(reason))
    // destroy() rejects every task piscina holds ('Terminating worker thread'), mapped to _POOL_DOWN.
    this.piscina.destroy().then(this.#recompute, this.#onListenerError)
  }

  #checkDrained (): void {
    if (this.#onDrained !== undefined && this.#inFlightCount() === 0) this.#onDrained()
  }

  #emitDown (reason: string): void {
    this.#emitSafely('down', reason, this.snapshot())
  }

  /** Calls each listener on its own, so one that throws neither breaks `run()` nor starves the rest. */
  #emitSafely (event: 'busy' | 'free' | 'down', ...args: unknown[]): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (...args: unknown[]) => void)(...args)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }

  /**
   * The wrapped load balancer saw a task start on a thread. Almost always that happens inside
   * `#handOff()` (a thread is free), so the wait is the time in the own queue; a task handed over
   * while its thread was still starting waits in piscina too, and is matched by the submission
   * window. Either way the figure is `run()` → start on a thread.
   */
  #onDispatch (waitMs: number, task: BalancerTask): void {
    for (const job of this.#awaitingThread) {
      if (job.handedAt <= task.created && task.created <= job.handedBy) {
        this.#awaitingThread.delete(job)
        this.emit('dispatch', performance.now() - job.submittedAt)
        return
      }
    }
    // A task given to `pool.piscina` directly: piscina's own wait.
    this.emit('dispatch', waitMs)
  }

  /** The pool's own queue plus the tasks piscina holds for a thread. */
  #queuedCount (): number {
    return this.#queue.size + this.piscina.queueSize
  }

  #inFlightCount (): number {
    return this.#submitted - this.#completed - this.#failedCount()
  }

  #failedCount (): number {
    return this.#rejected + this.#shed + this.#aborted + this.#timedOut + this.#errored + this.#crashed
  }

  #rejectError<E extends Error & { statusCode?: number }> (error: E): E {
    error.statusCode = this.#rejectStatusCode
    return error
  }

  #stopError (job: Job, reason: StopReason, cause?: { cause: unknown }): Error {
    if (reason === 'timeout') {
      this.#timedOut++
      return new TaskTimeoutError(job.timeoutMs, cause)
    }
    if (reason === 'shed') {
      this.#shed++
      const waitedMs = Math.round(performance.now() - job.submittedAt)
      return this.#rejectError(new QueueWaitExceededError(waitedMs, (this.#codel as QueueDelayController).targetMs, cause))
    }
    this.#aborted++
    return new TaskAbortedError(cause)
  }

  /** Maps a rejection from piscina (the job was handed off) to a coded error, and counts it. */
  #classify (error: unknown, job: Job): Error {
    const message = error instanceof Error ? error.message : ''
    const cause = { cause: error }
    if (message === TERMINATED_MESSAGE) {
      this.#rejected++
      return this.#failure !== undefined ? new PoolDownError(this.#failure, cause) : new PoolClosedError(cause)
    }
    if (job.stopReason !== undefined && error instanceof Error && error.name === 'AbortError') {
      return this.#stopError(job, job.stopReason, cause)
    }
    if (message.startsWith(WORKER_EXIT_PREFIX)) {
      this.#crashed++
      return new WorkerCrashedError(cause)
    }
    this.#errored++
    return new TaskFailedError(cause)
  }

  /** Announces a reported transition (after flap damping). */
  #report (busy: boolean): void {
    const to = busy ? 'busy' : 'free'
    this.#transitions[to]++
    this.#emitSafely(to, this.snapshot())
  }
}

function defaultListenerError (error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)))
}
