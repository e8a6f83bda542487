/**
 * The engine's runner for worker threads. The engine's queue does the waiting, never piscina's
 * (which keeps tasks with an AbortSignal in a second queue, out of order): a task is handed to
 * piscina when piscina can start it at once (a thread free, or starting), or, prepared while it
 * waits, taken by piscina itself from the engine's queue when a thread frees (`HandOffQueue`, the
 * `taskQueue` piscina is given), in the engine's order and one per free thread. Handing piscina
 * tasks ahead would let them overtake by priority and run after being shed: keep either hand-off
 * at start.
 *
 * What is piscina's here: how many tasks it runs at once (ceil(maxThreads) ×
 * concurrentTasksPerWorker), its idle threads (the busy rule's free slots), the meaning of its
 * rejections (piscina.ts), and noticing when no thread can start any more.
 */
import { Piscina, type TaskQueue } from 'piscina'
import { pathToFileURL } from 'node:url'
import type { Worker } from 'node:worker_threads'
import type { EngineHost, Job, Runner } from '../executor/engine.js'
import type { Outcome } from '../executor/accounting.js'
import { ClosedError, PoolDownError, TaskFailedError, WorkerCrashedError } from '../errors.js'
import { TERMINATED_MESSAGE, WORKER_EXIT_PREFIX, createPiscina, type PiscinaOptions } from './piscina.js'
import GUARDED_WORKER from './guarded-worker-path.cjs'

/** piscina's run options of a task with neither signal nor transfer list. */
const GUARDED_RUN = Object.freeze({ filename: GUARDED_WORKER, name: 'default' })

type PiscinaTask = Parameters<TaskQueue['push']>[0]

/** Who is asking the queue: piscina on its own (a thread frees or starts, or it is destroyed), or
 * the runner's `run()` while it prepares or starts a task. */
type Caller = 'piscina' | 'prepare' | 'start'

/**
 * The `taskQueue` piscina is given. piscina reads it when a thread frees (or starts) and when the
 * runner calls `run()`:
 * - tasks piscina could not place on a thread (one still starting) wait here, first out first;
 * - while the engine's next task is prepared and a thread idles, piscina takes it from here, and
 *   the engine counts it started (`EngineHost.takeNext()`): at most one per idle thread, so none
 *   waits in piscina where a later, more important one could not overtake it;
 * - while the runner prepares a task, the queue says it is not empty, so piscina queues the task
 *   (to this queue's `push`) rather than starting it; while the runner starts one, it hides the
 *   prepared ones, so piscina starts it on a free thread.
 */
class HandOffQueue implements TaskQueue {
  readonly #host: EngineHost
  readonly #idle: () => number
  readonly #waiting: PiscinaTask[] = []
  #caller: Caller = 'piscina'
  /** The task piscina queued during `prepare()`. */
  #prepared: PiscinaTask | undefined

  constructor (host: EngineHost, idle: () => number) {
    this.#host = host
    this.#idle = idle
  }

  get size (): number {
    switch (this.#caller) {
      case 'prepare': return 1
      case 'start': return this.#waiting.length
      case 'piscina': return this.#waiting.length + (this.#host.nextPrepared && this.#idle() > 0 ? 1 : 0)
    }
  }

  push (task: PiscinaTask): void {
    if (this.#caller === 'prepare') this.#prepared = task
    else this.#waiting.push(task)
  }

  unshift (task: PiscinaTask): void {
    this.#waiting.unshift(task)
  }

  /** piscina shifts only while `size` > 0: with nothing waiting, the engine's next task is prepared. */
  shift (): PiscinaTask {
    if (this.#waiting.length > 0) return this.#waiting.shift() as PiscinaTask
    return this.#host.takeNext().preparedHandle as PiscinaTask
  }

  remove (task: PiscinaTask): void {
    const index = this.#waiting.indexOf(task)
    if (index !== -1) this.#waiting.splice(index, 1)
  }

  /** Calls `run` (piscina's `run()`) so that piscina queues its task here: the run, and that task. */
  prepare<T> (run: () => T): [T, PiscinaTask] {
    const result = this.as('prepare', run)
    const task = this.#prepared as PiscinaTask
    this.#prepared = undefined
    return [result, task]
  }

  /** Calls `run` (which calls piscina) as `caller`. */
  as<T> (caller: Caller, run: () => T): T {
    const previous = this.#caller
    this.#caller = caller
    try {
      return run()
    } finally {
      this.#caller = previous
    }
  }
}

/** What a pool task carries beyond its task. */
export interface PoolCallExtra {
  /** The worker function to run (piscina `name`); null: the pool's default. */
  readonly name: string | null
  readonly transferList: unknown
}

export class PiscinaRunner implements Runner<unknown, PoolCallExtra> {
  readonly piscina: Piscina
  readonly concurrency: number
  readonly mayHoldCalls = true
  readonly timed = false
  readonly #host: EngineHost
  /** The user's worker file as a `file:` URL, for guarded-worker.cjs to import. */
  readonly #file: string

  readonly #handOff: HandOffQueue

  constructor (options: PiscinaOptions, host: EngineHost) {
    this.#host = host
    this.#handOff = new HandOffQueue(host, () => this.piscina.idleThreads)
    this.piscina = createPiscina({ ...options, taskQueue: this.#handOff })
    // piscina has turned a `file:` URL into a path by now.
    this.#file = pathToFileURL(this.piscina.options.filename as string).href
    const { maxThreads, concurrentTasksPerWorker } = this.piscina.options
    this.concurrency = Math.ceil(maxThreads) * concurrentTasksPerWorker
    // A thread that starts or stops changes idleThreads; piscina updates its bookkeeping after the
    // event returns, hence the microtask.
    this.piscina.on('workerCreate', this.#recomputeSoon)
    this.piscina.on('workerCreate', this.#trackThreads)
    this.piscina.on('workerDestroy', this.#recomputeSoon)
    // An unhandled 'error' emit would throw from inside piscina; forward it.
    this.piscina.on('error', (error: Error) => {
      host.error(error)
      queueMicrotask(this.#checkStranded)
    })
  }

  /** piscina never has more threads than ceil(maxThreads), so never more idle ones than `concurrency`. */
  idle (): number {
    return this.piscina.idleThreads
  }

  /** Tasks piscina holds for a thread that is still starting (its `queueSize`, without the
   * engine's prepared tasks). */
  get waitingInside (): number {
    return this.#handOff.as('start', () => this.piscina.queueSize)
  }

  /** piscina gives a task with a signal a thread to itself, and kills that thread to stop it: only
   * a task that may have to stop while running gets one. */
  wantsSignal (_task: unknown, timeoutMs: number, callerSignal: AbortSignal | undefined): boolean {
    return timeoutMs > 0 || callerSignal !== undefined
  }

  /** Every task runs through guarded-worker.cjs, which turns a thrown `null` into an Error. */
  start (job: Job<unknown, PoolCallExtra>): PromiseLike<unknown> {
    return this.#handOff.as('start', () => this.#run(job))
  }

  /** Builds the task's run now; piscina holds it for the engine to hand over (`HandOffQueue`). */
  prepare (job: Job<unknown, PoolCallExtra>): void {
    [job.prepared, job.preparedHandle] = this.#handOff.prepare(() => this.#run(job))
  }

  #run (job: Job<unknown, PoolCallExtra>): Promise<unknown> {
    let task = job.task as Record<symbol, unknown> | null | undefined
    let transferList = job.extra.transferList as unknown[] | undefined
    // piscina unwraps a `Piscina.move()` value only at the top of the task: inside the envelope
    // it is unwrapped here, with piscina's public symbols.
    if (task !== null && typeof task === 'object' && Piscina.transferableSymbol in task) {
      transferList = [...(transferList ?? []), task[Piscina.transferableSymbol]]
      task = task[Piscina.valueSymbol] as Record<symbol, unknown>
    }
    const envelope = { file: this.#file, name: job.extra.name ?? this.piscina.options.name, task }
    const signal = job.controller?.signal
    // piscina copies its options on every run: a task with neither signal nor transfer list shares one object.
    if (signal === undefined && transferList === undefined) return this.piscina.run(envelope, GUARDED_RUN)
    return this.piscina.run(envelope, { ...GUARDED_RUN, signal: signal ?? null, transferList: transferList as never })
  }

  /** A task that failed may have cost its thread (a crash, an abort): piscina may still be
   * replacing it when the promise settles, so busy/free is read again once that step is over. A
   * task that resolved changed nothing the engine's own recompute does not see: piscina has marked
   * its thread free before the promise's reactions run. */
  ended (_job: Job<unknown, PoolCallExtra>, resolved: boolean): boolean {
    if (!resolved) queueMicrotask(this.#recompute)
    return false
  }

  /** Maps a rejection from piscina to how the task settled and a coded error. */
  classify (error: unknown): [Outcome, Error] {
    const message = error instanceof Error ? error.message : ''
    const cause = { cause: error }
    if (message === TERMINATED_MESSAGE) {
      const failure = this.#host.failure
      return ['rejected', failure !== undefined ? new PoolDownError(failure, cause) : new ClosedError('pool', cause)]
    }
    if (message.startsWith(WORKER_EXIT_PREFIX)) return ['crashed', new WorkerCrashedError(cause)]
    return ['errored', new TaskFailedError(cause)]
  }

  closedError (): Error {
    return new ClosedError('pool')
  }

  downError (reason: string): Error {
    return new PoolDownError(reason)
  }

  /**
   * Not `piscina.close()`: in piscina 5.3.2 it can spin forever. While closing, `_addNewWorker()`
   * returns at once, yet `_onWorkerAvailable()` `continue`s its loop whenever a queued task finds
   * no free thread and fewer than maxThreads threads exist: the main thread burns 100% CPU and
   * nothing settles, not even a timer (reproduced on raw piscina by the scenario in
   * test/lib/pool/pool.test.ts). The engine knows when every task has settled, so it waits for that
   * itself and then the threads are destroyed; `destroy()` rejects what still runs.
   */
  async close (): Promise<void> {
    // piscina starts a replacement when a thread it has already let go of (killed by a deadline or
    // an abort) exits, unless it is destroying at that moment: an exit that arrives after
    // `destroy()` would start a thread after the close. So the close waits for every thread the pool
    // has started to exit, and destroys again if one was started meanwhile.
    do {
      const exits = [...this.#running.values()]
      await this.piscina.destroy()
      await Promise.all(exits)
    } while (this.piscina.threads.length > 0)
  }

  /** Threads that have started and not yet exited, each with its exit. */
  readonly #running = new Map<Worker, Promise<void>>()

  /** A thread is ready: note every thread piscina lists that is not yet noted (piscina's `threads`). */
  readonly #trackThreads = (): void => {
    for (const thread of this.piscina.threads) {
      if (this.#running.has(thread)) continue
      this.#running.set(thread, new Promise((resolve) => {
        thread.once('exit', () => {
          this.#running.delete(thread)
          resolve()
        })
      }))
    }
  }

  readonly #recompute = (): void => {
    this.#host.recompute()
    this.#checkStranded()
  }

  readonly #recomputeSoon = (): void => { queueMicrotask(this.#recompute) }

  /**
   * piscina stops replacing threads for the rest of the pool's life once one fails while starting
   * (piscina 5.3 `_onError`, `workerFailsDuringBootstrap`), and tasks queued then never settle.
   * When the last thread is gone while tasks wait, no thread will ever run them: the pool is down,
   * so it says so and refuses what waits rather than let requests hang.
   */
  readonly #checkStranded = (): void => {
    if (this.#host.down) return
    if (this.piscina.threads.length > 0 || this.#host.queued === 0) return
    this.#host.fail('worker threads fail to start')
    // destroy() rejects every task piscina holds ('Terminating worker thread'), mapped to _POOL_DOWN.
    this.piscina.destroy().then(this.#recompute, this.#host.error)
  }
}
