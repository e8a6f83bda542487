/**
 * An executor's lifetime counters. Invariants: `submitted === completed + failed + inFlight` at
 * every moment, and `failed === rejected + displaced + shed + aborted + timedOut + errored + crashed`.
 * The executor counts each task once when submitted and once through `settle(outcome)`; error
 * builders never count.
 */
import type { ExecutorStats } from './types.js'

/** How a task settled. */
export type Outcome = 'completed' | 'rejected' | 'displaced' | 'shed' | 'aborted' | 'timedOut' | 'errored' | 'crashed'

export class Accounting {
  #submitted = 0
  readonly #settled: Record<Outcome, number> = { completed: 0, rejected: 0, displaced: 0, shed: 0, aborted: 0, timedOut: 0, errored: 0, crashed: 0 }

  submit (): void {
    this.#submitted++
  }

  settle (outcome: Outcome): void {
    this.#settled[outcome]++
  }

  get completed (): number {
    return this.#settled.completed
  }

  get failed (): number {
    const s = this.#settled
    return s.rejected + s.displaced + s.shed + s.aborted + s.timedOut + s.errored + s.crashed
  }

  get inFlight (): number {
    return this.#submitted - this.#settled.completed - this.failed
  }

  stats (transitions: Readonly<{ busy: number, free: number }>): ExecutorStats {
    const s = this.#settled
    const failed = this.failed
    return {
      submitted: this.#submitted,
      completed: s.completed,
      failed,
      inFlight: this.#submitted - s.completed - failed,
      rejected: s.rejected,
      displaced: s.displaced,
      shed: s.shed,
      aborted: s.aborted,
      timedOut: s.timedOut,
      errored: s.errored,
      crashed: s.crashed,
      transitions: { ...transitions }
    }
  }
}
