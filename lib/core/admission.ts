/**
 * CoDel-style queue-wait admission applied to a queue (the rule itself is in lib/codel.ts): sheds
 * from the head while the rule says so, then arms one timer for when the head must be judged
 * again, so that a standing queue sheds even while no slot frees up. The timer is `unref`'d and
 * cleared by `dispose()`.
 */
import { QueueDelayController, type CodelOptions } from '../codel.js'

export class QueueAdmission<Job extends { readonly submittedAt: number }> {
  readonly #codel: QueueDelayController
  readonly #onRecheck: () => void
  /** The queue head the timer is armed for. */
  #judgedHead: Job | undefined
  #timer: NodeJS.Timeout | undefined

  /** @param onRecheck called when the head is due to be judged again (the owner calls `admit()`). */
  constructor (options: CodelOptions, onRecheck: () => void) {
    this.#codel = new QueueDelayController(options)
    this.#onRecheck = onRecheck
  }

  get targetMs (): number {
    return this.#codel.targetMs
  }

  /** Call whenever the queue's length may have changed. */
  queueLength (queued: number, now: number): void {
    this.#codel.queueLength(queued, now)
  }

  /** Sheds from the head (FIFO: when the head may stay, every later job may too). */
  admit (queue: Iterable<Job>, shed: (job: Job) => void): void {
    const now = performance.now()
    for (const job of queue) {
      const verdict = this.#codel.judge(job.submittedAt, now)
      if (verdict.shed) {
        shed(job)
        continue
      }
      if (job !== this.#judgedHead) {
        clearTimeout(this.#timer)
        this.#judgedHead = job
        this.#timer = setTimeout(this.#rejudge, verdict.recheckInMs)
        this.#timer.unref()
      }
      return
    }
  }

  dispose (): void {
    clearTimeout(this.#timer)
  }

  readonly #rejudge = (): void => {
    this.#judgedHead = undefined
    this.#onRecheck()
  }
}
