/**
 * The engine every executor runs on: the pool and each lane are this class with a different
 * `Runner`, which decides only what differs (how many tasks run at once, how to start one, what its
 * rejections mean, what to release at the end). What they promise alike is here once: the queue
 * and admission, per-task options, deadlines, accounting, busy/free once per transition, close.
 *
 * Do not break: a task stopped by its deadline, its caller, admission or the close settles at once,
 * but its slot stays taken until the runner reports that its run ended (it still holds a thread, or
 * whatever the function was using), so no more than `concurrency` tasks ever run.
 */
import { EventEmitter } from 'node:events'
import { BusyTracker, FlapDamper, type DamperTimers, type QueueSource } from './busy.js'
import { QueueFullError, QueueWaitExceededError, TaskAbortedError, TaskTimeoutError } from '../errors.js'
import type { ExecutorStats, SnapshotFields } from './types.js'
import { withRetryHint } from './retry.js'
import { Accounting, type Outcome } from './accounting.js'
import { QueueAdmission } from './admission.js'
import { JobQueue } from './queue.js'
import { checkRunOptions, defaultRunOptions, type CheckedRunOptions, type ExecutorSettings } from './options.js'

/** Why the engine stopped a task before it ended on its own. */
export type StopReason = 'caller' | 'timeout' | 'shed' | 'closed' | 'displaced'

/** The outcomes counted by priority: a task refused (at submission or by the close), displaced
 * from a full queue, or shed by admission. */
export type Refusal = 'rejected' | 'displaced' | 'shed'

/** One priority's figures (`Engine.priorities()`). */
export interface PriorityFigures {
  priority: number
  /** Tasks of this priority waiting in the engine's queue now. */
  queued: number
  /** Lifetime refusals of tasks of this priority, by outcome (as `stats()` counts them). */
  refused: Record<Refusal, number>
}

/** One submitted task, from `submit()` to settlement. */
export interface Job<Task = unknown, Extra = unknown> {
  readonly task: Task
  /** What the runner needs beyond the task (the pool: the export name and transfer list). */
  readonly extra: Extra
  readonly timeoutMs: number
  /** Higher starts first (lib/executor/queue.ts). */
  readonly priority: number
  /** `performance.now()` at submission, or 0 when nothing needed the time (see `timed`). */
  readonly submittedAt: number
  readonly resolve: (value: unknown) => void
  readonly reject: (error: Error) => void
  /** The signal handed to the running task; only when the runner asked for one. One per task,
   * never shared: code that adds a listener to its signal and never removes it would otherwise
   * pile listeners onto one long-lived signal. */
  readonly controller: AbortController | undefined
  readonly callerSignal: AbortSignal | undefined
  readonly onCallerAbort: (() => void) | undefined
  deadline: NodeJS.Timeout | undefined
  stoppedBy: StopReason | undefined
  /** Settled for the caller. */
  settled: boolean
  /** Holding a slot. */
  started: boolean
  /** Its run has ended (the slot is free again). */
  ended: boolean
  startedAt: number
  /** Tasks holding a slot when this one started, itself included (for an adaptive concurrency). */
  startedWith: number
  /** Set while queued when the runner has prepared its run (`Runner.prepare`): what `start()` would
   * return, and the runner's own record of it. */
  prepared: PromiseLike<unknown> | undefined
  preparedHandle: unknown
}

/** What the engine tells its runner, and lets it task back. */
export interface EngineHost {
  /** Re-reads busy/free now (the runner's own numbers changed: a thread started or stopped). */
  recompute: () => void
  /** The runner can no longer run tasks: the engine refuses what waits and every new task.
   * Task it once, while `down` is false. */
  fail: (reason: string) => void
  /** Why the runner failed, if it has. */
  readonly failure: string | undefined
  /** Closing, or failed. */
  readonly down: boolean
  /** Tasks waiting: the engine's queue plus those inside the runner. */
  readonly queued: number
  /** Hands an error that belongs to no task to the owner's `error` listeners, or `onListenerError`. */
  error: (error: Error) => void
  /** Whether the task to start next is prepared (`Runner.prepare`). */
  readonly nextPrepared: boolean
  /** The runner has a free slot and starts the next task itself, which must be prepared
   * (`nextPrepared`): that task, now started (counted, `dispatch` emitted, its prepared run watched). */
  takeNext: () => Job
}

/** What differs between a worker thread and an async function on the main thread. */
export interface Runner<Task, Extra> {
  /** Tasks it runs at once now (an adaptive concurrency moves). */
  readonly concurrency: number
  /** Free slots as the busy rule counts them, with `active` slots taken; never more than
   * `concurrency` (the engine relies on it to skip reading them while its own queue is longer). */
  idle: (active: number) => number
  /** Tasks waiting inside the runner itself (piscina's queue while a thread starts). */
  readonly waitingInside: number
  /** Whether a task it starts may still wait inside it (then busy/free is re-read after each start). */
  readonly mayHoldCalls: boolean
  /** Whether every task needs its submission time even when no one listens to `dispatch`. */
  readonly timed: boolean
  /** Whether this task's run needs an AbortSignal. */
  wantsSignal: (task: Task, timeoutMs: number, callerSignal: AbortSignal | undefined) => boolean
  /** Starts the task; the promise settles when it has really ended. */
  start: (job: Job<Task, Extra>) => PromiseLike<unknown>
  /** Optional: builds the run of a task that must wait (one with no signal, while no slot is free),
   * setting `job.prepared`, so that the runner can start it from inside its own completion handling
   * (`EngineHost.takeNext()`) instead of waiting for the engine's. A prepared task that leaves the
   * queue otherwise is simply dropped: `prepared` must never run unless taken. */
  prepare?: (job: Job<Task, Extra>) => void
  /** A started task ended, resolved or not (`stoppedBy` says whether the engine had stopped it).
   * Returns true when that changed `concurrency`. */
  ended: (job: Job<Task, Extra>, resolved: boolean) => boolean
  /** How a task nobody stopped settles when its run rejects. */
  classify: (error: unknown) => [Outcome, Error]
  /** The error for a task refused or stopped because the runner is closing. */
  closedError: () => Error
  /** The error for a task refused because the runner failed (only runners that can fail). */
  downError?: (reason: string) => Error
  /** Once nothing is in flight (or the close bound passed): release threads and files. */
  close: () => Promise<void>
}

/** What the plugins (and the tests) pass to the pool or a lane beside its settings. */
export interface EngineHooks {
  /** Called when a listener throws (and for runner errors nobody listens to), so that a faulty
   * listener never breaks `run()`. Default: a process warning. */
  onListenerError?: ((error: unknown) => void) | undefined
  /** Timers for the flap damper (tests inject fake ones). */
  dwellTimers?: DamperTimers | undefined
}

export interface EngineOptions extends Omit<ExecutorSettings, 'maxQueue'>, EngineHooks {
  /** Most tasks that may wait. Infinity: unbounded. A function is called once the runner
   * exists (the pool's `'auto'` needs piscina's own reading of `maxThreads`). */
  maxQueue: number | (() => number)
}

export abstract class Engine<Task, Extra, Events extends Record<keyof Events, unknown[]> = Record<string, unknown[]>> extends EventEmitter<Events> {
  readonly #runner: Runner<Task, Extra>
  readonly #queue: JobQueue<Job<Task, Extra>>
  readonly #admission: QueueAdmission<Job<Task, Extra>> | undefined
  readonly #damper: FlapDamper
  readonly #tracker: BusyTracker
  readonly #accounting = new Accounting()
  readonly #transitions = { busy: 0, free: 0 }
  /** Refusals by priority. At most one entry per priority allowed (lib/executor/options.ts). */
  readonly #refusals = new Map<number, Record<Refusal, number>>()
  /** Started tasks, for the close to stop those still running past its bound. An array compacted
   * now and then rather than a Set: adding a fresh object to a Set hashes it. */
  #started: Array<Job<Task, Extra>> = []
  /** The options of a task that gives none. */
  readonly #defaultRun: Readonly<CheckedRunOptions>
  readonly #closeTimeout: number
  readonly #rejectStatusCode: number
  readonly #retryAfter: number
  readonly #onListenerError: (error: unknown) => void
  /** Slots taken: started tasks whose run has not ended (stopped ones included). */
  #active = 0
  /** Whether tasks are timed: `performance.now()` is a measurable share of a bare lane task, so
   * only when admission, the runner or a `dispatch` listener needs it. */
  #timed: boolean
  #failure: string | undefined
  #closed: Promise<void> | undefined
  #onDrained: (() => void) | undefined

  constructor (options: EngineOptions, makeRunner: (host: EngineHost) => Runner<Task, Extra>) {
    super()
    this.#defaultRun = defaultRunOptions(options.timeoutMs)
    this.#closeTimeout = options.closeTimeoutMs
    this.#rejectStatusCode = options.rejectStatusCode
    this.#retryAfter = options.retryAfter
    this.#onListenerError = options.onListenerError ?? warnListenerError
    const engine = this
    // Events are typed by the owner (pool or lane); inside, the engine emits its own untyped.
    const emitter = this as EventEmitter
    this.#runner = makeRunner({
      recompute: () => { this.#tracker.recompute() },
      fail: (reason) => { this.#fail(reason) },
      get failure () { return engine.#failure },
      get down () { return engine.down },
      get queued () { return engine.#queued },
      error: (error) => {
        if (emitter.listenerCount('error') > 0) emitter.emit('error', error)
        else this.#onListenerError(error)
      },
      get nextPrepared () { return engine.#queue.next()?.prepared !== undefined },
      takeNext: () => this.#takeNext()
    })
    this.#queue = new JobQueue(typeof options.maxQueue === 'function' ? options.maxQueue() : options.maxQueue)
    this.#admission = options.admission === undefined ? undefined : new QueueAdmission(options.admission, () => { this.#pump() })
    this.#timed = this.#admission !== undefined || this.#runner.timed
    emitter.on('newListener', (event: string | symbol) => { if (event === 'dispatch') this.#timed = true })
    this.#damper = new FlapDamper(options.dwell, (busy) => { this.#report(busy) }, options.dwellTimers)
    const runner = this.#runner
    const source: QueueSource = {
      get queueSize () { return engine.#queued },
      get idleThreads () { return runner.idle(engine.#active) }
    }
    this.#tracker = new BusyTracker(source, (to) => { this.#damper.update(to === 'busy') })
  }

  /** Tasks it runs at once now. */
  get concurrency (): number {
    return this.#runner.concurrency
  }

  /** More tasks queued than free slots (as reported: after flap damping, when enabled). */
  get busy (): boolean {
    return this.#damper.busy
  }

  /** True once `close()` has been called. */
  get closing (): boolean {
    return this.#closed !== undefined
  }

  /** True when it cannot run tasks: it is closing, or its runner failed. */
  get down (): boolean {
    return this.closing || this.#failure !== undefined
  }

  /** Slots taken: running tasks, plus stopped ones whose run has not ended yet. */
  protected get active (): number {
    return this.#active
  }

  /** Tasks waiting for a slot: the engine's queue plus any inside the runner. */
  get #queued (): number {
    return this.#queue.size + this.#runner.waitingInside
  }

  protected engineSnapshot (): SnapshotFields {
    const queued = this.#queued
    return {
      busy: this.#damper.busy,
      queued,
      running: Math.max(0, this.#accounting.inFlight - queued),
      completed: this.#accounting.completed,
      failed: this.#accounting.failed,
      concurrency: this.#runner.concurrency
    }
  }

  /** Lifetime counters (see `ExecutorStats` for the invariants). */
  stats (): ExecutorStats {
    return this.#accounting.stats(this.#transitions)
  }

  /**
   * Tasks waiting and tasks refused, by priority, highest first: every priority with tasks in the
   * engine's queue now or refused ever. Summed over priorities, `refused` equals `stats()`'s
   * `rejected`, `displaced` and `shed`, and `queued` the engine's own queue (a snapshot's `queued`
   * also counts tasks waiting inside the runner: piscina's, while a thread starts).
   */
  priorities (): PriorityFigures[] {
    const figures = new Map<number, PriorityFigures>()
    for (const [priority, queued] of this.#queue.depths()) figures.set(priority, { priority, queued, refused: { rejected: 0, displaced: 0, shed: 0 } })
    for (const [priority, refused] of this.#refusals) {
      const entry = figures.get(priority)
      if (entry === undefined) figures.set(priority, { priority, queued: 0, refused: { ...refused } })
      else entry.refused = { ...refused }
    }
    return [...figures.values()].sort((a, b) => b.priority - a.priority)
  }

  /** The owner's full snapshot (the engine's fields and its runner's), also passed with
   * `busy`/`free`/`down`. */
  abstract snapshot (): SnapshotFields

  /**
   * Checks the task's `signal`, `timeout` and `priority` (a bad one rejects it, counting nothing;
   * the owner checks the rest), then counts and runs it: refused at once when closing, failed,
   * already aborted, or the queue is full of tasks of its priority or higher; started at once when
   * nothing waits and a slot is free; queued otherwise (in a full queue, in the place of the newest
   * task of the lowest priority, which settles at once).
   */
  protected submit<Result> (task: Task, extra: Extra, options: unknown): Promise<Result> {
    let timeoutMs: number
    let callerSignal: AbortSignal | undefined
    let priority: number
    try {
      ({ timeoutMs, signal: callerSignal, priority } = checkRunOptions(options, this.#defaultRun))
    } catch (error) {
      return Promise.reject(error)
    }
    this.#accounting.submit()
    if (this.#failure !== undefined) return this.#refuseNow(this.#downError(this.#failure), priority)
    if (this.closing) return this.#refuseNow(this.#runner.closedError(), priority)
    if (callerSignal?.aborted === true) {
      this.#accounting.settle('aborted')
      return Promise.reject(withRetryHint(new TaskAbortedError({ cause: callerSignal.reason }), this.#retryAfter))
    }
    const fastPath = this.#queue.size === 0 && this.#active < this.#runner.concurrency
    let displaced: Job<Task, Extra> | undefined
    if (!fastPath && this.#queue.full) {
      displaced = this.#queue.displaceable(priority)
      if (displaced === undefined) return this.#refuseNow(this.#withStatus(new QueueFullError()), priority)
    }
    const now = this.#timed ? performance.now() : 0
    // One executor for every task, not a closure per task: a closure's captured variables live in
    // a context object allocated with it, and each task would pay for both.
    const promise = new Promise<Result>(captureResolvers)
    const resolve = capturedResolve
    const reject = capturedReject
    const job: Job<Task, Extra> = {
      task,
      extra,
      timeoutMs,
      priority,
      submittedAt: now,
      resolve,
      reject,
      controller: this.#runner.wantsSignal(task, timeoutMs, callerSignal) ? new AbortController() : undefined,
      callerSignal,
      onCallerAbort: callerSignal === undefined ? undefined : () => { this.#stop(job, 'caller') },
      deadline: undefined,
      stoppedBy: undefined,
      settled: false,
      started: false,
      ended: false,
      startedAt: 0,
      startedWith: 0,
      prepared: undefined,
      preparedHandle: undefined
    }
    if (timeoutMs > 0) {
      job.deadline = setTimeout(() => { this.#stop(job, 'timeout') }, timeoutMs)
      // The task itself keeps the process alive while it runs; its deadline need not.
      job.deadline.unref()
    }
    // A listener rather than AbortSignal.any(): the caller's signal may outlive the task by far
    // (a server-wide signal), and AbortSignal.any() keeps every composite alive with it.
    if (callerSignal !== undefined) callerSignal.addEventListener('abort', job.onCallerAbort as () => void, { once: true })
    if (fastPath) {
      // Nothing waits and a slot is free: it skips the queue (and admission, which judges only
      // queued tasks). Nothing waited before nor after, so busy/free cannot have changed, unless
      // the runner may hold the task (piscina, while a thread starts).
      this.#start(job, now)
      if (this.#runner.mayHoldCalls) this.#tracker.recompute()
      return promise
    }
    if (displaced !== undefined) this.#displace(displaced)
    this.#queue.add(job)
    this.#admission?.queueLength(this.#queue.size, job.submittedAt)
    // Admission judges a task when it leaves the queue, which a runner's own start would skip.
    if (this.#admission === undefined && job.controller === undefined && this.#active >= this.#runner.concurrency) this.#runner.prepare?.(job)
    this.#pump()
    return promise
  }

  /**
   * Stops accepting tasks; queued and running ones finish, bounded by `closeTimeoutMs`. Past the
   * bound, queued tasks are refused and running ones are stopped, with the runner's closed error.
   * Then the runner releases what it holds. Calling it again returns the same promise.
   */
  close (): Promise<void> {
    this.#closed ??= this.#shutDown()
    return this.#closed
  }

  async #shutDown (): Promise<void> {
    if (this.#failure === undefined) this.#emitSafely('down', 'closing', this.snapshot())
    if (this.#accounting.inFlight > 0) {
      let bound: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#onDrained = resolve
        if (this.#closeTimeout !== Infinity) bound = setTimeout(resolve, this.#closeTimeout)
      })
      clearTimeout(bound)
      this.#onDrained = undefined
      for (const job of this.#queue) this.#stop(job, 'closed')
      for (const job of this.#started) if (!job.ended) this.#stop(job, 'closed')
    }
    await this.#runner.close()
    this.#damper.dispose()
    this.#admission?.dispose()
    this.#tracker.recompute()
  }

  /** Starts queued tasks while slots are free (after shedding what admission refuses). */
  #pump (): void {
    this.#startQueued()
    this.#recomputeBusy()
  }

  #startQueued (): void {
    this.#admission?.admit(this.#queue, (job) => { this.#stop(job, 'shed') })
    const concurrency = this.#runner.concurrency
    if (this.#queue.size > 0 && this.#active < concurrency && this.#failure === undefined) {
      const now = this.#timed ? performance.now() : 0
      for (let job = this.#queue.next(); job !== undefined && this.#active < concurrency; job = this.#queue.next()) {
        this.#dequeue(job)
        this.#start(job, now)
      }
    }
  }

  /** While busy, a queue of its own longer than the concurrency (which no count of free slots
   * exceeds) keeps it busy: the runner's figures (piscina's, for the pool) need not be read. */
  #recomputeBusy (): void {
    if (!this.#tracker.busy || this.#queue.size <= this.#runner.concurrency) this.#tracker.recompute()
  }

  /** Only while `nextPrepared` (EngineHost). */
  #takeNext (): Job<Task, Extra> {
    const job = this.#queue.next() as Job<Task, Extra>
    this.#dequeue(job)
    this.#begin(job, this.#timed ? performance.now() : 0)
    this.#watch(job, job.prepared as PromiseLike<unknown>)
    return job
  }

  #start (job: Job<Task, Extra>, now: number): void {
    this.#begin(job, now)
    let pending: PromiseLike<unknown>
    try {
      pending = this.#runner.start(job)
    } catch (error) {
      pending = Promise.reject(error)
    }
    this.#watch(job, pending)
  }

  /** The task holds a slot from now. */
  #begin (job: Job<Task, Extra>, now: number): void {
    job.started = true
    this.#active++
    this.#started.push(job)
    job.startedAt = now
    job.startedWith = this.#active
    // A task submitted before anyone timed it has no submission time: no wait to report.
    // A task starts when a slot can take it: handed over by the engine, or taken by the runner
    // (`takeNext`); either way the hand-off is the dispatch.
    if (this.#timed && job.submittedAt > 0) this.#emitSafely('dispatch', now - job.submittedAt)
  }

  #watch (job: Job<Task, Extra>, pending: PromiseLike<unknown>): void {
    pending.then(
      (value) => { this.#ended(job, true, value) },
      (error: unknown) => { this.#ended(job, false, error) }
    )
  }

  /** A started task ended: free its slot; settle it unless it was stopped already. (A rejection
   * may carry any value, `undefined` included: `resolved` tells them apart.) */
  #ended (job: Job<Task, Extra>, resolved: boolean, valueOrError: unknown): void {
    this.#active--
    job.ended = true
    if (this.#started.length > 64 && this.#started.length > 4 * this.#active) this.#started = this.#started.filter(isRunning)
    const moved = this.#runner.ended(job, resolved)
    // The slot goes to the next task before this one settles: a thread that waits for its next
    // task waits for everything done first.
    this.#startQueued()
    if (!job.settled) {
      if (resolved) this.#settle(job, 'completed', undefined, valueOrError)
      else this.#settle(job, ...this.#runner.classify(valueOrError))
    }
    if (moved) this.#emitSafely('concurrency', this.#runner.concurrency)
    this.#recomputeBusy()
    this.#checkDrained()
  }

  /** The deadline, the caller's signal, admission or the close stopped a task: it settles now. A
   * queued task leaves the queue; a running one has its signal fired and keeps its slot until its
   * run ends. */
  #stop (job: Job<Task, Extra>, reason: Exclude<StopReason, 'displaced'>): void {
    if (job.settled) return
    job.stoppedBy = reason
    const [outcome, error] = this.#stopError(job, reason)
    if (job.started) job.controller?.abort(error)
    else this.#dequeue(job)
    this.#settle(job, outcome, error)
    this.#tracker.recompute()
    this.#checkDrained()
  }

  /** A full queue's newest task of the lowest priority gives its place to a more important
   * arrival: it settles now with `_QUEUE_FULL`, as if it had been refused on arrival. Nothing is
   * re-read in between (the arrival takes the place at once): neither busy/free (no flap) nor the
   * admission's standing-queue clock (the queue never emptied). */
  #displace (job: Job<Task, Extra>): void {
    job.stoppedBy = 'displaced'
    this.#queue.delete(job)
    this.#settle(job, 'displaced', this.#withStatus(new QueueFullError()))
  }

  #stopError (job: Job<Task, Extra>, reason: Exclude<StopReason, 'displaced'>): [Outcome, Error] {
    switch (reason) {
      case 'timeout': return ['timedOut', new TaskTimeoutError(job.timeoutMs)]
      case 'caller': return ['aborted', new TaskAbortedError({ cause: job.callerSignal?.reason })]
      case 'closed': return ['rejected', this.#failure === undefined ? this.#runner.closedError() : this.#downError(this.#failure)]
      case 'shed': {
        const waitedMs = Math.round(performance.now() - job.submittedAt)
        return ['shed', this.#withStatus(new QueueWaitExceededError(waitedMs, (this.#admission as QueueAdmission<Job<Task, Extra>>).targetMs))]
      }
    }
  }

  #settle (job: Job<Task, Extra>, outcome: Outcome, error: Error | undefined, value?: unknown): void {
    job.settled = true
    clearTimeout(job.deadline)
    if (job.onCallerAbort !== undefined) (job.callerSignal as AbortSignal).removeEventListener('abort', job.onCallerAbort)
    this.#accounting.settle(outcome)
    if (error === undefined) {
      job.resolve(value)
      return
    }
    if (outcome === 'rejected' || outcome === 'displaced' || outcome === 'shed') this.#countRefusal(job.priority, outcome)
    job.reject(withRetryHint(error, this.#retryAfter))
  }

  #countRefusal (priority: number, outcome: Refusal): void {
    let counts = this.#refusals.get(priority)
    if (counts === undefined) this.#refusals.set(priority, counts = { rejected: 0, displaced: 0, shed: 0 })
    counts[outcome]++
  }

  /** The runner can no longer run tasks: say so, and refuse what waits. The runner tasks it
   * once, only while the engine is up (`EngineHost.down` false). */
  #fail (reason: string): void {
    this.#failure = reason
    this.#emitSafely('down', reason, this.snapshot())
    for (const job of this.#queue) this.#stop(job, 'closed')
  }

  /** Only a runner that can fail (it has `downError`) ever sets `#failure`. */
  #downError (reason: string): Error {
    return (this.#runner.downError as (reason: string) => Error)(reason)
  }

  #dequeue (job: Job<Task, Extra>): void {
    this.#queue.delete(job)
    this.#admission?.queueLength(this.#queue.size, performance.now())
  }

  /** Refuses a task on arrival (closing, down, or a full queue): `rejected`. */
  #refuseNow (error: Error, priority: number): Promise<never> {
    this.#accounting.settle('rejected')
    this.#countRefusal(priority, 'rejected')
    return Promise.reject(withRetryHint(error, this.#retryAfter))
  }

  #checkDrained (): void {
    if (this.#onDrained !== undefined && this.#accounting.inFlight === 0) this.#onDrained()
  }

  #withStatus<E extends Error & { statusCode?: number }> (error: E): E {
    error.statusCode = this.#rejectStatusCode
    return error
  }

  /** Announces a reported transition (after flap damping). */
  #report (busy: boolean): void {
    const to = busy ? 'busy' : 'free'
    this.#transitions[to]++
    this.#emitSafely(to, this.snapshot())
  }

  /** Tasks each listener on its own, so one that throws neither breaks `run()` nor starves the rest. */
  #emitSafely (event: 'busy' | 'free' | 'down' | 'concurrency' | 'dispatch', ...args: unknown[]): void {
    for (const listener of (this as EventEmitter).listeners(event)) {
      try {
        (listener as (...args: unknown[]) => void)(...args)
      } catch (error) {
        this.#onListenerError(error)
      }
    }
  }
}

/** The resolving functions of the promise `submit()` has just built (an executor runs
 * synchronously inside `new Promise()`; `submit()` reads them at once). */
let capturedResolve!: (value: unknown) => void
let capturedReject!: (error: Error) => void

function captureResolvers (resolve: (value: never) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve as (value: unknown) => void
  capturedReject = reject
}

function isRunning (job: Job<unknown, unknown>): boolean {
  return !job.ended
}

/** The default `onListenerError`: a process warning. */
function warnListenerError (error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)))
}
