/**
 * The engine's runner for a lane: a task is an async function, given an AbortSignal when it
 * declares a parameter to receive one. Its slots are its concurrency, fixed or adaptive (each
 * task that ends is a latency sample).
 */
import { AdaptiveLimit, type AdaptiveLimitOptions } from './adaptive.js'
import type { Job, Runner } from '../executor/engine.js'
import type { Outcome } from '../executor/accounting.js'
import { ClosedError, TaskFailedError } from '../errors.js'

/** The function a lane runs: it receives a signal to pass on (`fetch(url, { signal })`). */
export type LaneTask<Result> = (signal: AbortSignal) => Result | PromiseLike<Result>

/** Passed to a function that declares no parameter (it cannot read it); never fires. */
const NO_SIGNAL = new AbortController().signal

export class AsyncRunner implements Runner<LaneTask<unknown>, undefined> {
  readonly #name: string
  readonly #fixedLimit: number
  readonly #adaptive: AdaptiveLimit | undefined

  constructor (name: string, concurrency: number | { adaptive: AdaptiveLimitOptions }) {
    this.#name = name
    if (typeof concurrency === 'number') {
      this.#fixedLimit = concurrency
    } else {
      this.#adaptive = new AdaptiveLimit(concurrency.adaptive)
      this.#fixedLimit = 0
    }
  }

  /** An adaptive concurrency needs each task's start time. */
  get timed (): boolean {
    return this.#adaptive !== undefined
  }

  get concurrency (): number {
    return this.#adaptive?.limit ?? this.#fixedLimit
  }

  idle (active: number): number {
    return Math.max(0, this.concurrency - active)
  }

  readonly waitingInside = 0
  readonly mayHoldCalls = false

  /** A function that declares no parameter cannot read a signal: it gets none (the fast path). */
  wantsSignal (fn: LaneTask<unknown>): boolean {
    return fn.length > 0
  }

  start (job: Job<LaneTask<unknown>, undefined>): PromiseLike<unknown> {
    return Promise.resolve(job.task(job.controller?.signal ?? NO_SIGNAL))
  }

  ended (job: Job<LaneTask<unknown>, undefined>): boolean {
    return this.#adaptive?.sample(performance.now() - job.startedAt, job.startedWith, job.stoppedBy === 'timeout') === true
  }

  /** Whatever the function threw or rejected with, `null` included, is the cause. */
  classify (error: unknown): [Outcome, Error] {
    return ['errored', new TaskFailedError({ cause: error })]
  }

  closedError (): Error {
    return new ClosedError(`lane "${this.#name}"`)
  }

  /** Nothing to release: the functions were the caller's. */
  async close (): Promise<void> {}
}
