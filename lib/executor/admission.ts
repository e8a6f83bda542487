/**
 * CoDel-style queue-wait admission ("Fail at Scale", ACM Queue 2015; folly's `Codel`): while the
 * queue has not been empty for a whole `interval`, a task that has waited longer than `target` is
 * shed. A queue that empties now and then is absorbing a burst; one that never empties only adds
 * latency, so tasks that cannot start soon are refused while the client can still retry elsewhere.
 * `QueueDelayController` is the rule, with time passed in so it is testable without timers.
 */
import type { JobQueue, Queued } from './queue.js'

/** The rule applied to a `JobQueue`: it judges the task that has waited longest and, when that one
 * must go, sheds the oldest of the lowest priority instead (it would wait longer still). One
 * `unref`'d timer makes a standing queue shed even while no slot frees up. */
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

export interface CodelOptions {
  /** Longest acceptable queue wait while the queue is standing, in ms. */
  targetMs: number
  /** How long the queue must stay non-empty before it counts as standing, in ms. */
  intervalMs: number
}

export type CodelVerdict = { shed: true } | { shed: false, recheckInMs: number }

export class QueueDelayController {
  readonly #targetMs: number
  readonly #intervalMs: number
  /** When the queue last went from empty to non-empty; undefined while it is empty. */
  #nonEmptySince: number | undefined

  constructor ({ targetMs, intervalMs }: CodelOptions) {
    this.#targetMs = targetMs
    this.#intervalMs = intervalMs
  }

  get targetMs (): number {
    return this.#targetMs
  }

  /** Call whenever the number of queued tasks may have changed. */
  queueLength (queued: number, now: number): void {
    if (queued === 0) this.#nonEmptySince = undefined
    else if (this.#nonEmptySince === undefined) this.#nonEmptySince = now
  }

  /** The queue has not been empty for at least `interval`. */
  standing (now: number): boolean {
    return this.#nonEmptySince !== undefined && now - this.#nonEmptySince >= this.#intervalMs
  }

  /**
   * For a task still queued, submitted at `submittedAt`: shed it now, or ask again in
   * `recheckInMs` (when it will have waited `target`, or when the queue will count as standing).
   */
  judge (submittedAt: number, now: number): CodelVerdict {
    const waited = now - submittedAt
    if (waited <= this.#targetMs) return { shed: false, recheckInMs: Math.max(1, Math.ceil(this.#targetMs - waited) + 1) }
    if (this.standing(now)) return { shed: true }
    // Not standing yet; the queue is non-empty (this task is in it), so it becomes standing at
    // nonEmptySince + interval unless it empties first.
    const since = this.#nonEmptySince ?? now
    return { shed: false, recheckInMs: Math.max(1, Math.ceil(since + this.#intervalMs - now)) }
  }
}
