/**
 * `BackpressurePool`: a piscina pool that knows, at every moment, whether it is busy, and says so
 * once per transition. Framework-free; the pool plugin decorates Fastify with one.
 *
 * What it adds to piscina:
 * - `busy` / `free` events, from `BusyTracker` (busy = more tasks queued than idle threads),
 *   optionally damped by minimum dwell times (`FlapDamper`);
 * - `run(task, { signal, timeout })`, with a deadline counted from submission and every piscina
 *   failure mapped to a coded error (piscina's own errors carry no code: we match their messages);
 * - optional CoDel-style queue-wait admission (`QueueDelayController`);
 * - `down`: the pool can no longer start threads, or is closing;
 * - `snapshot()` and `stats()`: cheap, synchronous figures for probes and metrics;
 * - a `dispatch` event with each task's queue wait, for metrics and admission control.
 */
import { EventEmitter } from 'node:events'
import { Piscina } from 'piscina'
import { BusyTracker } from './busy-tracker.js'
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
  /** A task left the queue for a thread after waiting `waitMs`. */
  dispatch: [waitMs: number]
  /** piscina reported an error outside any task (for example a thread failing while idle). */
  error: [error: Error]
}

// piscina's failure messages (5.3). piscina errors have no `code`, so the message is the contract.
const QUEUE_FULL_MESSAGES = new Set(['Task queue is at limit', 'No task queue available and all Workers are busy'])
const CLOSED_MESSAGES = new Set(['Terminating worker thread', 'queue is being terminated'])
const WORKER_EXIT_PREFIX = 'worker exited with code'
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000
/** Lets piscina's own close timeout act first; ours only catches a close that would never end. */
const CLOSE_GRACE_MS = 50

type AbortReason = 'caller' | 'timeout' | 'shed'

/** Per-task bookkeeping, kept only for tasks that need a deadline or queue-wait admission. */
interface Controlled {
  readonly controller: AbortController
  reason: AbortReason | undefined
  deadline: NodeJS.Timeout | undefined
  admissionTimer: NodeJS.Timeout | undefined
  /** `performance.now()` just before and just after `piscina.run()`: piscina stamps the task's
   * `created` synchronously in between, which is how a dispatch is matched to its task. */
  submittedAt: number
  submittedBy: number
  queued: boolean
  waitedMs: number
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
  readonly #rejectStatusCode: number
  readonly #onListenerError: (error: unknown) => void
  /** Tasks under admission control that piscina has not dispatched yet, in submission order. */
  readonly #waiting = new Set<Controlled>()
  #closing = false
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
      onListenerError = defaultListenerError, loadBalancer, ...piscinaOptions
    } = options
    this.#defaultTimeout = timeout
    this.#closeTimeout = piscinaOptions.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT_MS
    this.#rejectStatusCode = rejectStatusCode
    this.#onListenerError = onListenerError
    this.#codel = admission === undefined ? undefined : new QueueDelayController(admission)
    const balancer = loadBalancer ?? leastBusyBalancer(piscinaOptions.concurrentTasksPerWorker ?? 1)
    this.piscina = new Piscina({
      ...piscinaOptions,
      loadBalancer: observeDispatch(balancer, (waitMs, task) => { this.#onDispatch(waitMs, task) })
    })
    // piscina resolves 'auto' (maxThreads²) and the default (Infinity) into `options.maxQueue`.
    this.#maxQueue = this.piscina.options.maxQueue
    this.#damper = new FlapDamper(dwell, (busy) => { this.#report(busy) }, dwellTimers)
    this.#tracker = new BusyTracker(this.piscina, (to) => { this.#damper.update(to === 'busy') })
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
    return this.#closing
  }

  /** True when the pool cannot run tasks: it is closing, or its threads fail to start. */
  get down (): boolean {
    return this.#closing || this.#failure !== undefined
  }

  snapshot (): PoolSnapshot {
    const queued = this.piscina.queueSize
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
    if (this.#failure !== undefined || this.#closing) {
      this.#rejected++
      // While piscina shuts threads down its figures move without a task settling; catch up here.
      this.#tracker.recompute()
      return Promise.reject(this.#failure !== undefined ? new PoolDownError(this.#failure) : new PoolClosedError())
    }
    // piscina 5.3 checks maxQueue against its main queue only, but a task with an AbortSignal that
    // finds no free thread waits in a second queue (`skipQueue`, `_returnUndistributedTask`), so
    // with signals or deadlines the limit never applies (measured: 8 s at 2.5× load with a signal
    // per task and maxQueue 16 gave no QUEUE_FULL at all, and 5 s waits). `queueSize` counts both
    // queues, so the limit is enforced here.
    if (this.piscina.queueSize >= this.#maxQueue) {
      this.#rejected++
      return Promise.reject(this.#rejectError(new QueueFullError()))
    }
    const timeout = options.timeout ?? this.#defaultTimeout
    const callerSignal = options.signal
    // Without a deadline or admission control, the caller's signal goes to piscina as it is.
    const control = timeout > 0 || this.#codel !== undefined ? this.#control(timeout) : undefined
    const onCallerAbort = control === undefined ? undefined : (): void => { this.#abort(control, 'caller') }
    if (onCallerAbort !== undefined && callerSignal !== undefined) {
      if (callerSignal.aborted) onCallerAbort()
      // A listener rather than AbortSignal.any(): the caller's signal may live much longer than the
      // task (a server-wide signal), and AbortSignal.any() keeps every composite alive with it.
      else callerSignal.addEventListener('abort', onCallerAbort, { once: true })
    }
    if (control !== undefined) this.#enqueue(control)
    const pending = this.piscina.run(task, {
      signal: control?.controller.signal ?? callerSignal ?? null,
      name: options.name ?? null,
      transferList: options.transferList
    })
    if (control !== undefined) this.#admit(control)
    // Aborting a queued task takes it out of piscina's queue at once, before its promise settles:
    // recompute right after piscina's own abort listener (registered by run(), so it runs first).
    const directSignal = control === undefined ? callerSignal : undefined
    directSignal?.addEventListener('abort', this.#recompute, { once: true })
    this.#tracker.recompute()
    const release = (): void => {
      directSignal?.removeEventListener('abort', this.#recompute)
      if (control === undefined) return
      clearTimeout(control.deadline)
      clearTimeout(control.admissionTimer)
      if (onCallerAbort !== undefined) callerSignal?.removeEventListener('abort', onCallerAbort)
      if (control.queued) this.#dequeue(control)
    }
    return pending.then(
      (result: Result) => {
        release()
        this.#completed++
        this.#settled()
        return result
      },
      (error: unknown) => {
        release()
        const mapped = this.#classify(error, control, timeout)
        this.#settled()
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
    if (this.#failure === undefined) this.#emitDown('closing')
    // piscina's own closeTimeout timer is unref()'d, and its flush check counts the threads present
    // when close() began: if one crashes and is replaced meanwhile, close() never resolves and the
    // process can exit with tasks unsettled (seen in test/pool-property.test.ts). Our own timer
    // bounds it; it is cleared as soon as piscina finishes.
    let bound: NodeJS.Timeout | undefined
    const overdue = new Promise<true>((resolve) => { bound = setTimeout(resolve, this.#closeTimeout + CLOSE_GRACE_MS, true) })
    const closed = this.piscina.close().then(() => false)
    this.#tracker.recompute()
    const timedOut = await Promise.race([closed, overdue])
    clearTimeout(bound)
    if (timedOut) await this.piscina.destroy()
    this.#damper.dispose()
    this.#tracker.recompute()
  }

  readonly #recompute = (): void => {
    this.#tracker.recompute()
    this.#checkStranded()
  }

  readonly #recomputeSoon = (): void => { queueMicrotask(this.#recompute) }

  /** A task settled: recompute now, and again once piscina has finished the step that settled it
   * (it may still be removing a thread or moving the next task when our handler runs). */
  #settled (): void {
    this.#tracker.recompute()
    queueMicrotask(this.#recompute)
  }

  /**
   * piscina stops replacing threads for the rest of the pool's life once one fails while starting
   * (piscina 5.3 `_onError`, `workerFailsDuringBootstrap`), and tasks queued then never settle.
   * When the last thread is gone while tasks wait, no thread will ever run them: the pool is down,
   * so it says so and rejects what waits rather than let requests hang.
   */
  readonly #checkStranded = (): void => {
    if (this.#closing || this.#failure !== undefined) return
    if (this.piscina.threads.length > 0 || this.piscina.queueSize === 0) return
    this.#failure = 'worker threads fail to start'
    this.#emitDown(this.#failure)
    // destroy() rejects every queued task ('Terminating worker thread'), mapped to _POOL_DOWN.
    this.piscina.destroy().then(this.#recompute, this.#onListenerError)
  }

  #emitDown (reason: string): void {
    const snapshot = this.snapshot()
    for (const listener of this.listeners('down')) {
      try {
        (listener as (reason: string, snapshot: PoolSnapshot) => void)(reason, snapshot)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }

  #control (timeout: number): Controlled {
    const control: Controlled = {
      controller: new AbortController(),
      reason: undefined,
      deadline: undefined,
      admissionTimer: undefined,
      submittedAt: 0,
      submittedBy: 0,
      queued: false,
      waitedMs: 0
    }
    if (timeout > 0) {
      control.deadline = setTimeout(() => { this.#abort(control, 'timeout') }, timeout)
      // The task itself keeps the process alive while it runs; the deadline timer need not.
      control.deadline.unref()
    }
    return control
  }

  #abort (control: Controlled, reason: AbortReason): void {
    if (control.reason !== undefined) return
    control.reason = reason
    control.controller.abort()
    this.#tracker.recompute()
  }

  /** Before `piscina.run()`: piscina may dispatch the task synchronously, inside the call, so the
   * task must already be known as waiting for `#onDispatch` to match it. */
  #enqueue (control: Controlled): void {
    control.submittedAt = performance.now()
    control.submittedBy = Infinity
    if (this.#codel === undefined || control.reason !== undefined) return
    control.queued = true
    this.#waiting.add(control)
  }

  /** After `piscina.run()`: closes the submission window and, if the task is still queued, puts it
   * under queue-wait admission until piscina dispatches it. */
  #admit (control: Controlled): void {
    control.submittedBy = performance.now()
    const codel = this.#codel
    if (codel === undefined || !control.queued) return
    codel.queueLength(this.#waiting.size, control.submittedBy)
    this.#judgeLater(control, codel.targetMs + 1)
  }

  #judgeLater (control: Controlled, ms: number): void {
    control.admissionTimer = setTimeout(() => { this.#judge(control) }, ms)
    control.admissionTimer.unref()
  }

  #judge (control: Controlled): void {
    const codel = this.#codel
    /* c8 ignore next -- the timer is cleared when the task leaves the queue; this guards a race */
    if (codel === undefined || !control.queued) return
    const now = performance.now()
    const verdict = codel.judge(control.submittedAt, now)
    if (verdict.shed) {
      control.waitedMs = now - control.submittedAt
      this.#abort(control, 'shed')
    } else {
      this.#judgeLater(control, verdict.recheckInMs)
    }
  }

  #dequeue (control: Controlled): void {
    control.queued = false
    clearTimeout(control.admissionTimer)
    this.#waiting.delete(control)
    this.#codel?.queueLength(this.#waiting.size, performance.now())
  }

  #onDispatch (waitMs: number, task: BalancerTask): void {
    if (this.#waiting.size > 0) {
      // piscina stamps `created` inside our run() call, so the dispatched task is the one whose
      // submission window contains it (piscina hands the balancer no other handle on the task).
      for (const control of this.#waiting) {
        if (control.submittedAt <= task.created && task.created <= control.submittedBy) {
          this.#dequeue(control)
          break
        }
      }
    }
    this.emit('dispatch', waitMs)
  }

  #failedCount (): number {
    return this.#rejected + this.#shed + this.#aborted + this.#timedOut + this.#errored + this.#crashed
  }

  #rejectError<E extends Error & { statusCode?: number }> (error: E): E {
    error.statusCode = this.#rejectStatusCode
    return error
  }

  #classify (error: unknown, control: Controlled | undefined, timeout: number): Error {
    const message = error instanceof Error ? error.message : ''
    const cause = { cause: error }
    if (this.#failure !== undefined && CLOSED_MESSAGES.has(message)) {
      this.#rejected++
      return new PoolDownError(this.#failure, cause)
    }
    if (error instanceof Error && error.name === 'AbortError') {
      if (control?.reason === 'timeout') {
        this.#timedOut++
        return new TaskTimeoutError(timeout, cause)
      }
      if (control?.reason === 'shed') {
        this.#shed++
        return this.#rejectError(new QueueWaitExceededError(Math.round(control.waitedMs), (this.#codel as QueueDelayController).targetMs, cause))
      }
      this.#aborted++
      return new TaskAbortedError(cause)
    }
    // run() refuses a task once queueSize (which includes piscina's own queue) reaches maxQueue, so
    // piscina's limit is never hit first; kept so its message still maps right if that changes.
    /* c8 ignore start -- unreachable with piscina 5.3, see above */
    if (QUEUE_FULL_MESSAGES.has(message)) {
      this.#rejected++
      return this.#rejectError(new QueueFullError(cause))
    }
    /* c8 ignore stop */
    if (CLOSED_MESSAGES.has(message) || message === 'Close operation timed out') {
      this.#rejected++
      return new PoolClosedError(cause)
    }
    if (message.startsWith(WORKER_EXIT_PREFIX)) {
      this.#crashed++
      return new WorkerCrashedError(cause)
    }
    this.#errored++
    return new TaskFailedError(cause)
  }

  /** Announces a reported transition; calls each listener on its own, so one that throws neither
   * breaks `run()` nor starves the rest. */
  #report (busy: boolean): void {
    const to = busy ? 'busy' : 'free'
    this.#transitions[to]++
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
