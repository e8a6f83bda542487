/**
 * `Lane`: a bounded concurrency gate for async functions on the main thread (calls to an upstream
 * service, a database, anything awaited), with the same meaning of busy as the worker pool: **more
 * calls queued than free slots**. A hung upstream holds no thread and leaves the event loop idle, so
 * nothing else in the process notices it; a lane does, because its calls stop finishing.
 *
 * Built from the same parts as the pool (lib/core): the FIFO queue and its `maxQueue`, queue-wait
 * admission, per-call option checks, deadlines counted from submission, the accounting and its
 * invariant, busy tracking with flap damping. Its limit is fixed, or adaptive (lib/adaptive-limit.ts),
 * in which case it emits `'capacity'` each time the limit changes.
 *
 * Each call receives an AbortSignal that fires on its deadline, on the caller's abort, and when the
 * lane closes past its bound. A stopped call rejects at once; its slot stays taken until the
 * function actually settles, because until then it still holds whatever it was using.
 */
import { EventEmitter } from 'node:events'
import { AdaptiveLimit, type AdaptiveLimitOptions } from './adaptive-limit.js'
import { BusyTracker, type QueueSource } from './busy-tracker.js'
import type { CodelOptions } from './codel.js'
import { Accounting, type Outcome } from './core/accounting.js'
import { QueueAdmission } from './core/admission.js'
import { JobQueue } from './core/job-queue.js'
import { checkRunOptions } from './core/run-options.js'
import { DEFAULT_CLOSE_TIMEOUT_MS } from './core/executor-options.js'
import {
  InvalidOptionError,
  LaneClosedError,
  QueueFullError,
  QueueWaitExceededError,
  TaskAbortedError,
  TaskFailedError,
  TaskTimeoutError,
  describeValue
} from './errors.js'
import type { Executor, ExecutorStats } from './executor.js'
import { FlapDamper, type DamperTimers, type DwellTimes } from './flap-damper.js'

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

export interface LaneRunOptions {
  /** Stops the call: removed from the queue if queued; its signal fires if running. */
  signal?: AbortSignal | undefined
  /** Deadline in ms counted from submission; 0 or Infinity: none. Default: the lane's `timeout`. */
  timeout?: number | undefined
}

/** The function a lane runs: it receives a signal to pass on (`fetch(url, { signal })`). */
export type LaneTask<Result> = (signal: AbortSignal) => Result | PromiseLike<Result>

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

type StopReason = 'caller' | 'timeout' | 'shed' | 'closed'

/** Passed to a function that declares no parameter (it cannot read it); never fires. */
const NO_SIGNAL = new AbortController()

interface LaneJob {
  readonly fn: LaneTask<unknown>
  readonly timeoutMs: number
  readonly submittedAt: number
  readonly resolve: (value: unknown) => void
  readonly reject: (error: Error) => void
  /** Fires the signal `fn` receives; none when `fn` declares no parameter (it could not read it).
   * One per call, never shared: code that adds a listener to its signal and never removes it
   * would otherwise pile listeners onto one long-lived signal. */
  readonly controller: AbortController | undefined
  readonly callerSignal: AbortSignal | undefined
  /** Listens to the caller's signal (only when there is one). */
  readonly onCallerAbort: (() => void) | undefined
  deadline: NodeJS.Timeout | undefined
  /** Why it was stopped before its function returned, if it was. */
  stoppedBy: StopReason | undefined
  /** Settled for the caller. */
  settled: boolean
  /** Holding a slot. */
  started: boolean
  startedAt: number
  /** Calls running when this one started, itself included (for the adaptive limit). */
  startedWith: number
}

export class Lane extends EventEmitter<LaneEvents> implements Executor {
  readonly name: string
  readonly affectsProbe: boolean
  readonly #queue: JobQueue<LaneJob>
  readonly #fixedLimit: number
  readonly #adaptive: AdaptiveLimit | undefined
  readonly #defaultTimeout: number
  readonly #closeTimeout: number
  readonly #admission: QueueAdmission<LaneJob> | undefined
  readonly #damper: FlapDamper
  readonly #tracker: BusyTracker
  readonly #accounting = new Accounting()
  readonly #rejectStatusCode: number
  readonly #onListenerError: (error: unknown) => void
  readonly #running = new Set<LaneJob>()
  readonly #transitions = { busy: 0, free: 0 }
  #active = 0
  /** Whether calls are timed (`performance.now()` costs about 10% of a bare call): only when
   * admission or the adaptive limit needs it, or someone listens to `dispatch` (the metrics). */
  #timed: boolean
  #closed: Promise<void> | undefined
  #onDrained: (() => void) | undefined

  constructor (options: LaneOptions) {
    super()
    const { name, concurrency, maxQueue = Infinity, timeoutMs = 0, closeTimeoutMs = DEFAULT_CLOSE_TIMEOUT_MS, admission, dwell, dwellTimers } = options
    this.name = name
    this.affectsProbe = options.affectsProbe ?? true
    this.#rejectStatusCode = options.rejectStatusCode ?? 503
    this.#onListenerError = options.onListenerError ?? defaultListenerError
    if (typeof concurrency === 'number') {
      this.#fixedLimit = concurrency
    } else {
      this.#adaptive = new AdaptiveLimit(concurrency.adaptive)
      this.#fixedLimit = 0
    }
    this.#queue = new JobQueue(maxQueue)
    this.#defaultTimeout = timeoutMs
    this.#closeTimeout = closeTimeoutMs
    this.#admission = admission === undefined ? undefined : new QueueAdmission(admission, () => { this.#pump() })
    this.#timed = this.#admission !== undefined || this.#adaptive !== undefined
    // 'newListener' is EventEmitter's own event, outside LaneEvents.
    ;(this as EventEmitter).on('newListener', (event: string | symbol) => { if (event === 'dispatch') this.#timed = true })
    this.#damper = new FlapDamper(dwell ?? { toBusyMs: 0, toFreeMs: 0 }, (busy) => { this.#report(busy) }, dwellTimers)
    const lane = this
    const source: QueueSource = {
      get queueSize () { return lane.#queue.size },
      get idleThreads () { return Math.max(0, lane.capacity - lane.#active) }
    }
    this.#tracker = new BusyTracker(source, (to) => { this.#damper.update(to === 'busy') })
  }

  /** The current limit: calls run at once. */
  get capacity (): number {
    return this.#adaptive?.limit ?? this.#fixedLimit
  }

  /** More calls queued than free slots (after flap damping). */
  get busy (): boolean {
    return this.#damper.busy
  }

  get closing (): boolean {
    return this.#closed !== undefined
  }

  /** A lane is down only while closing: it needs nothing that could fail to start. */
  get down (): boolean {
    return this.closing
  }

  snapshot (): LaneSnapshot {
    const queued = this.#queue.size
    return {
      busy: this.#damper.busy,
      queued,
      running: this.#accounting.inFlight - queued,
      completed: this.#accounting.completed,
      failed: this.#accounting.failed,
      limit: this.capacity,
      active: this.#active
    }
  }

  stats (): LaneStats {
    return this.#accounting.stats(this.#transitions)
  }

  /**
   * Runs `fn(signal)` when a slot is free. Rejects with a coded error: `FST_BACKPRESSURE_QUEUE_FULL`,
   * `_QUEUE_WAIT_EXCEEDED`, `_TASK_TIMEOUT`, `_TASK_ABORTED`, `_TASK_FAILED` (what `fn` threw as
   * `cause`, whatever it was, `null` included), `_LANE_CLOSED`, or `_INVALID_OPTION` for bad options
   * (then nothing is counted).
   */
  run<Result> (fn: LaneTask<Result>, options?: LaneRunOptions): Promise<Result> {
    let signal: AbortSignal | undefined
    let timeoutMs: number
    try {
      if (typeof fn !== 'function') throw new InvalidOptionError('run.fn', 'a function', describeValue(fn))
      ;({ signal, timeoutMs } = checkRunOptions(options, this.#defaultTimeout))
    } catch (error) {
      return Promise.reject(error)
    }
    this.#accounting.submit()
    if (this.closing) return this.#refuseNow('rejected', new LaneClosedError(this.name))
    if (signal?.aborted === true) return this.#refuseNow('aborted', new TaskAbortedError({ cause: signal.reason }))
    const fastPath = this.#queue.size === 0 && this.#active < this.capacity
    if (!fastPath && this.#queue.full) return this.#refuseNow('rejected', this.#withStatus(new QueueFullError()))
    const now = this.#timed ? performance.now() : 0
    return new Promise<Result>((resolve, reject) => {
      const job: LaneJob = {
        fn,
        timeoutMs,
        submittedAt: now,
        resolve: resolve as (value: unknown) => void,
        reject,
        // A function that declares no parameter cannot read its signal: no controller (the fast path).
        controller: fn.length > 0 ? new AbortController() : undefined,
        callerSignal: signal,
        onCallerAbort: signal === undefined ? undefined : () => { this.#stop(job, 'caller') },
        deadline: undefined,
        stoppedBy: undefined,
        settled: false,
        started: false,
        startedAt: 0,
        startedWith: 0
      }
      if (timeoutMs > 0) {
        job.deadline = setTimeout(() => { this.#stop(job, 'timeout') }, timeoutMs)
        job.deadline.unref()
      }
      // A listener rather than AbortSignal.any(): the caller's signal may outlive the call by far.
      if (signal !== undefined) signal.addEventListener('abort', job.onCallerAbort as () => void, { once: true })
      if (fastPath) {
        // Queue empty and a slot free, before and after: nothing for the tracker to recompute.
        this.#start(job, now)
        return
      }
      this.#queue.add(job)
      this.#admission?.queueLength(this.#queue.size, job.submittedAt)
      this.#pump()
    })
  }

  /**
   * Stops accepting calls; queued and running ones finish, bounded by `closeTimeout`. Past the
   * bound, queued calls are refused and running ones are rejected (`_LANE_CLOSED`) with their
   * signal fired. Calling it again returns the same promise.
   */
  close (): Promise<void> {
    this.#closed ??= this.#shutDown()
    return this.#closed
  }

  async #shutDown (): Promise<void> {
    this.#emitSafely('down', 'closing', this.snapshot())
    if (this.#accounting.inFlight > 0) {
      let bound: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#onDrained = resolve
        if (this.#closeTimeout !== Infinity) bound = setTimeout(resolve, this.#closeTimeout)
      })
      clearTimeout(bound)
      this.#onDrained = undefined
      for (const job of this.#queue) this.#stop(job, 'closed')
      for (const job of this.#running) this.#stop(job, 'closed')
    }
    this.#damper.dispose()
    this.#admission?.dispose()
    this.#tracker.recompute()
  }

  /** Starts queued calls while slots are free (after shedding what admission refuses). */
  #pump (): void {
    this.#admission?.admit(this.#queue, (job) => { this.#stop(job, 'shed') })
    if (this.#queue.size > 0 && this.#active < this.capacity) {
      const now = this.#timed ? performance.now() : 0
      for (let job = this.#queue.next(); job !== undefined && this.#active < this.capacity; job = this.#queue.next()) {
        this.#dequeue(job)
        this.#start(job, now)
      }
    }
    this.#tracker.recompute()
  }

  #start (job: LaneJob, now: number): void {
    job.started = true
    this.#active++
    this.#running.add(job)
    job.startedAt = now
    job.startedWith = this.#active
    // A call submitted before anyone timed it has no submission time: no wait to report.
    if (this.#timed && job.submittedAt > 0) this.emit('dispatch', now - job.submittedAt)
    let pending: PromiseLike<unknown>
    try {
      pending = Promise.resolve(job.fn((job.controller ?? NO_SIGNAL).signal))
    } catch (error) {
      pending = Promise.reject(error)
    }
    pending.then(
      (value) => { this.#finished(job, 'completed', value) },
      (error: unknown) => { this.#finished(job, 'errored', error) }
    )
  }

  /** `fn` settled: free the slot; settle the call unless it was stopped already. */
  #finished (job: LaneJob, outcome: 'completed' | 'errored', valueOrError: unknown): void {
    this.#active--
    this.#running.delete(job)
    if (job.stoppedBy === undefined) {
      if (outcome === 'completed') this.#settle(job, 'completed', undefined, valueOrError)
      else this.#settle(job, 'errored', new TaskFailedError({ cause: valueOrError }))
    }
    if (this.#adaptive?.sample(performance.now() - job.startedAt, job.startedWith, job.stoppedBy === 'timeout') === true) {
      this.#emitSafely('capacity', this.#adaptive.limit)
    }
    this.#pump()
    this.#checkDrained()
  }

  /** The deadline, the caller's signal, admission or close stopped a call: it settles now. A
   * queued call leaves the queue; a running one has its signal fired, and keeps its slot until
   * its function returns. */
  #stop (job: LaneJob, reason: StopReason): void {
    if (job.stoppedBy !== undefined || job.settled) return
    job.stoppedBy = reason
    const [outcome, error] = this.#stopError(job, reason)
    if (job.started) job.controller?.abort(error)
    else this.#dequeue(job)
    this.#settle(job, outcome, error)
    this.#tracker.recompute()
    this.#checkDrained()
  }

  #stopError (job: LaneJob, reason: StopReason): [Outcome, Error] {
    switch (reason) {
      case 'timeout': return ['timedOut', new TaskTimeoutError(job.timeoutMs)]
      case 'caller': return ['aborted', new TaskAbortedError({ cause: job.callerSignal?.reason })]
      case 'closed': return ['rejected', new LaneClosedError(this.name)]
      case 'shed': {
        const waitedMs = Math.round(performance.now() - job.submittedAt)
        return ['shed', this.#withStatus(new QueueWaitExceededError(waitedMs, (this.#admission as QueueAdmission<LaneJob>).targetMs))]
      }
    }
  }

  #settle (job: LaneJob, outcome: Outcome, error: Error | undefined, value?: unknown): void {
    job.settled = true
    clearTimeout(job.deadline)
    if (job.onCallerAbort !== undefined) (job.callerSignal as AbortSignal).removeEventListener('abort', job.onCallerAbort)
    this.#accounting.settle(outcome)
    if (error === undefined) job.resolve(value)
    else job.reject(error)
  }

  #dequeue (job: LaneJob): void {
    this.#queue.delete(job)
    this.#admission?.queueLength(this.#queue.size, performance.now())
  }

  #refuseNow (outcome: Outcome, error: Error): Promise<never> {
    this.#accounting.settle(outcome)
    return Promise.reject(error)
  }

  #checkDrained (): void {
    if (this.#onDrained !== undefined && this.#accounting.inFlight === 0) this.#onDrained()
  }

  #withStatus<E extends Error & { statusCode?: number }> (error: E): E {
    error.statusCode = this.#rejectStatusCode
    return error
  }

  #report (busy: boolean): void {
    const to = busy ? 'busy' : 'free'
    this.#transitions[to]++
    this.#emitSafely(to, this.snapshot())
  }

  /** Calls each listener on its own, so one that throws neither breaks `run()` nor starves the rest. */
  #emitSafely (event: 'busy' | 'free' | 'down' | 'capacity', ...args: unknown[]): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (...args: unknown[]) => void)(...args)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }
}

function defaultListenerError (error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)))
}
