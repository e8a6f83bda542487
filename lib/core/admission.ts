/**
 * CoDel-style queue-wait admission applied to a queue (the rule itself is in lib/codel.ts): while
 * the queue is over its wait target, sheds the lowest priority first, then arms one timer for when
 * the queue must be judged again, so that a standing queue sheds even while no slot frees up. The
 * timer is `unref`'d and cleared by `dispose()`.
 *
 * The queue is judged by the call that has waited longest (with one priority, the head): when it
 * may stay, every call may. When it may not, the call shed is the oldest of the lowest priority
 * waiting: a call of lower priority starts after every call above it, so it would wait longer
 * still. With one priority the two are the same call, the rule of a FIFO.
 */
import { QueueDelayController, type CodelOptions } from '../codel.js'
import type { JobQueue, Queued } from './job-queue.js'

export class QueueAdmission<Job extends Queued> {
  readonly #codel: QueueDelayController
  readonly #onRecheck: () => void
  /** The job the timer is armed for. */
  #judged: Job | undefined
  #timer: NodeJS.Timeout | undefined

  /** @param onRecheck called when the queue is due to be judged again (the owner calls `admit()`). */
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

  /** Sheds while the longest wait is over the target, lowest priority first. `shed` must remove
   * the job it is given from the queue. */
  admit (queue: JobQueue<Job>, shed: (job: Job) => void): void {
    const now = performance.now()
    for (let oldest = queue.oldest(); oldest !== undefined; oldest = queue.oldest()) {
      const verdict = this.#codel.judge(oldest.submittedAt, now)
      if (verdict.shed) {
        shed(queue.lowest() as Job)
        continue
      }
      if (oldest !== this.#judged) {
        clearTimeout(this.#timer)
        this.#judged = oldest
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
    this.#judged = undefined
    this.#onRecheck()
  }
}
