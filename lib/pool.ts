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
 * - `maxQueue` and optional CoDel-style queue-wait admission on that queue;
 * - `down`: the pool can no longer start threads, or is closing;
 * - `snapshot()` and `stats()`: cheap, synchronous figures for probes and metrics;
 * - a `dispatch` event with each task's queue wait, for metrics.
 *
 * The parts shared with the lanes (lib/lane.ts) live in lib/core: the queue and its policy
 * (`JobQueue`), admission (`QueueAdmission`), per-call option checks (`checkRunOptions`) and the
 * accounting (`Accounting`); what is piscina's is in lib/executors (its construction and error
 * messages in piscina.ts, the guard against `throw null` in throw-guard.ts). What stays here is the
 * hand-off to piscina, dispatch matching, and close and down detection.
 */
import { EventEmitter } from 'node:events'
import type { Piscina } from 'piscina'
import { TERMINATED_MESSAGE, WORKER_EXIT_PREFIX, createPiscina, type PiscinaOptions } from './executors/piscina.js'
import { ThrowGuard } from './executors/throw-guard.js'
import { BusyTracker, type QueueSource } from './busy-tracker.js'
import type { Executor, ExecutorStats } from './executor.js'
import type { CodelOptions } from './codel.js'
import { Accounting, type Outcome } from './core/accounting.js'
import { QueueAdmission } from './core/admission.js'
import { JobQueue } from './core/job-queue.js'
import { leastBusyBalancer, observeDispatch, type BalancerTask } from './dispatch-balancer.js'
import { FlapDamper, type DamperTimers, type DwellTimes } from './flap-damper.js'
import { checkRunName, checkRunOptions, type CheckedRunOptions } from './core/run-options.js'
import { closeTimeoutOption } from './core/executor-options.js'
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

export type { PiscinaOptions }

/** The pool's state at one moment. Every field is read synchronously and cheaply. A type rather
 * than an interface: its implicit index signature makes it an `ExecutorSnapshot`. */
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions
export type PoolSnapshot = {
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

/** Lifetime counters (see `ExecutorStats` in lib/executor.ts for the invariant). */
export type PoolStats = ExecutorStats

export interface RunOptions {
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

export interface BackpressurePoolOptions extends PiscinaOptions {
  /** The worker file (an absolute path or a `file:` URL string). */
  filename: string
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

export class BackpressurePool extends EventEmitter<BackpressurePoolEvents> implements Executor {
  /** Its name among the executors the probe and the agent read. */
  readonly name = 'pool'
  /** The pool always counts in the probe and the agent's answer. */
  readonly affectsProbe = true
  /** The underlying piscina instance, for what this wrapper does not cover. */
  readonly piscina: Piscina
  readonly #tracker: BusyTracker
  /** Runs each task through a module that turns a thrown `null` into an Error (throw-guard.ts). */
  readonly #guard: ThrowGuard
  readonly #damper: FlapDamper
  readonly #admission: QueueAdmission<Job> | undefined
  readonly #defaultTimeout: number
  readonly #closeTimeout: number
  /** Tasks piscina can start at once: a handoff beyond it would wait in piscina's queues. */
  readonly #capacity: number
  readonly #rejectStatusCode: number
  readonly #onListenerError: (error: unknown) => void
  /** The pool's own queue, FIFO: a Set iterates in insertion order and deletes in O(1). */
  readonly #queue: JobQueue<Job>
  /** Jobs handed to piscina and not dispatched to a thread yet (at most `#capacity`). */
  readonly #awaitingThread = new Set<Job>()
  /** Jobs handed to piscina and not settled. */
  #inPiscina = 0
  /** The queue head the admission timer is armed for. */
  #closed: Promise<void> | undefined
  /** Resolves close()'s wait once nothing is in flight. */
  #onDrained: (() => void) | undefined
  #failure: string | undefined
  readonly #accounting = new Accounting()
  #transitions = { busy: 0, free: 0 }

  constructor (options: BackpressurePoolOptions) {
    super()
    const {
      timeout = 0, admission, dwell = { toBusyMs: 0, toFreeMs: 0 }, dwellTimers, rejectStatusCode = 503,
      onListenerError = defaultListenerError, loadBalancer, maxQueue, closeTimeout, ...piscinaOptions
    } = options
    this.#defaultTimeout = timeout
    // Infinity: no bound. Never passed to piscina (whose close() the pool does not use).
    this.#closeTimeout = closeTimeoutOption('pool', closeTimeout)
    this.#rejectStatusCode = rejectStatusCode
    this.#onListenerError = onListenerError
    this.#admission = admission === undefined ? undefined : new QueueAdmission(admission, () => { this.#pump() })
    const balancer = loadBalancer ?? leastBusyBalancer(piscinaOptions.concurrentTasksPerWorker ?? 1)
    // maxQueue is not passed on: piscina never holds more than `#capacity` tasks.
    this.piscina = createPiscina({
      ...piscinaOptions,
      loadBalancer: observeDispatch(balancer, (waitMs, task) => { this.#onDispatch(waitMs, task) })
    })
    // piscina has turned a `file:` URL into a path by now.
    this.#guard = new ThrowGuard(this.piscina.options.filename as string)
    const { maxThreads, concurrentTasksPerWorker } = this.piscina.options
    this.#capacity = Math.ceil(maxThreads) * concurrentTasksPerWorker
    this.#queue = new JobQueue(maxQueue === 'auto' ? maxThreads ** 2 : maxQueue ?? Infinity)
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

  /** Tasks the pool runs at once: ceil(maxThreads) × concurrentTasksPerWorker. */
  get capacity (): number {
    return this.#capacity
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
    return {
      busy: this.#damper.busy,
      queued,
      idleThreads: this.piscina.idleThreads,
      threads: this.piscina.threads.length,
      running: Math.max(0, this.#accounting.inFlight - queued),
      completed: this.#accounting.completed,
      failed: this.#accounting.failed
    }
  }

  stats (): PoolStats {
    return this.#accounting.stats(this.#transitions)
  }

  /**
   * Runs `task` on a worker thread. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_QUEUE_WAIT_EXCEEDED`, `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (original error as
   * `cause`), `_WORKER_CRASHED`, `_POOL_CLOSED` or `_POOL_DOWN`.
   */
  run<Result = unknown> (task: unknown, options?: RunOptions): Promise<Result> {
    let checked: CheckedRunOptions
    let name: string | null
    try {
      checked = checkRunOptions(options, this.#defaultTimeout)
      name = checkRunName(options?.name)
    } catch (error) {
      return Promise.reject(error)
    }
    this.#accounting.submit()
    if (this.#failure !== undefined || this.closing) {
      this.#accounting.settle('rejected')
      return Promise.reject(this.#failure !== undefined ? new PoolDownError(this.#failure) : new PoolClosedError())
    }
    if (this.#queue.full) {
      this.#accounting.settle('rejected')
      return Promise.reject(this.#rejectError(new QueueFullError()))
    }
    const { signal: callerSignal, timeoutMs } = checked
    if (callerSignal?.aborted === true) {
      this.#accounting.settle('aborted')
      return Promise.reject(new TaskAbortedError({ cause: callerSignal.reason }))
    }
    return new Promise<Result>((resolve, reject) => {
      const job: Job = {
        task,
        name,
        transferList: options?.transferList,
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
      if (this.#queue.size === 0 && this.#inPiscina < this.#capacity) {
        // The fast path: nothing waits and piscina can start it now, so it skips the own queue
        // (and admission, which only judges queued jobs).
        this.#handOff(job)
        this.#tracker.recompute()
        return
      }
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
    if (this.#accounting.inFlight > 0) {
      let bound: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#onDrained = resolve
        if (this.#closeTimeout !== Infinity) bound = setTimeout(resolve, this.#closeTimeout)
      })
      clearTimeout(bound)
      this.#onDrained = undefined
      // Past the bound: what still waits is refused; destroy() rejects what still runs.
      this.#refuseQueued(() => new PoolClosedError())
    }
    await this.piscina.destroy()
    this.#guard.dispose()
    this.#damper.dispose()
    this.#admission?.dispose()
    this.#tracker.recompute()
  }

  /** Hands jobs from the head of the queue to piscina while piscina can start them at once. */
  #pump (): void {
    this.#admission?.admit(this.#queue, (job) => { this.#stop(job, 'shed') })
    for (const job of this.#queue) {
      if (this.#inPiscina >= this.#capacity || this.#failure !== undefined) break
      this.#dequeue(job)
      this.#handOff(job)
    }
    this.#tracker.recompute()
  }

  #handOff (job: Job): void {
    job.handedOff = true
    this.#inPiscina++
    this.#awaitingThread.add(job)
    job.handedAt = performance.now()
    job.handedBy = Infinity // piscina may dispatch it synchronously, inside run()
    const filename = this.#guard.moduleFor(job.name ?? this.piscina.options.name)
    const pending = this.piscina.run(job.task, { signal: job.controller?.signal ?? null, filename, name: 'default', transferList: job.transferList })
    job.handedBy = performance.now()
    pending.then(
      (result: unknown) => {
        this.#accounting.settle('completed')
        this.#settled(job)
        job.resolve(result)
      },
      (error: unknown) => {
        const [outcome, mapped] = this.#classify(error, job)
        this.#accounting.settle(outcome)
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
    const [outcome, error] = this.#stopError(job, reason)
    this.#accounting.settle(outcome)
    this.#refuse(job, error)
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
      this.#accounting.settle('rejected')
      this.#refuse(job, error())
    }
  }

  #release (job: Job): void {
    clearTimeout(job.deadline)
    job.callerSignal?.removeEventListener('abort', job.onCallerAbort)
  }

  #enqueue (job: Job): void {
    this.#queue.add(job)
    this.#admission?.queueLength(this.#queue.size, job.submittedAt)
  }

  #dequeue (job: Job): void {
    this.#queue.delete(job)
    this.#admission?.queueLength(this.#queue.size, performance.now())
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
    if (this.#onDrained !== undefined && this.#accounting.inFlight === 0) this.#onDrained()
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

  #rejectError<E extends Error & { statusCode?: number }> (error: E): E {
    error.statusCode = this.#rejectStatusCode
    return error
  }

  #stopError (job: Job, reason: StopReason, cause?: { cause: unknown }): [Outcome, Error] {
    if (reason === 'timeout') return ['timedOut', new TaskTimeoutError(job.timeoutMs, cause)]
    if (reason === 'shed') {
      const waitedMs = Math.round(performance.now() - job.submittedAt)
      return ['shed', this.#rejectError(new QueueWaitExceededError(waitedMs, (this.#admission as QueueAdmission<Job>).targetMs, cause))]
    }
    return ['aborted', new TaskAbortedError(cause)]
  }

  /** Maps a rejection from piscina (the job was handed off) to how it settled and a coded error. */
  #classify (error: unknown, job: Job): [Outcome, Error] {
    const message = error instanceof Error ? error.message : ''
    const cause = { cause: error }
    if (message === TERMINATED_MESSAGE) {
      return ['rejected', this.#failure !== undefined ? new PoolDownError(this.#failure, cause) : new PoolClosedError(cause)]
    }
    if (job.stopReason !== undefined && error instanceof Error && error.name === 'AbortError') {
      return this.#stopError(job, job.stopReason, cause)
    }
    if (message.startsWith(WORKER_EXIT_PREFIX)) return ['crashed', new WorkerCrashedError(cause)]
    return ['errored', new TaskFailedError(cause)]
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
