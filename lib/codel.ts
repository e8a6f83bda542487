/**
 * Queue-wait admission in the style of CoDel ("controlled delay"), as described in Facebook's
 * "Fail at Scale" (ACM Queue, 2015) and folly's `Codel`.
 *
 * The rule: **while the queue has not been empty for a whole `interval` (default 100 ms), a task
 * that has waited longer than `target` (default 5 ms) is shed.** A queue that empties now and then
 * is absorbing a burst, and its tasks may wait as long as they need (their deadline still applies);
 * a queue that never empties is a standing queue, and waiting in it only adds latency, so tasks
 * that cannot start quickly are refused early, while the client can still retry elsewhere.
 *
 * This class only keeps the state and answers questions; its owner tells it when the number of
 * queued tasks changes and asks, for a queued task, whether to shed it now or when to ask again.
 * Time is passed in (ms, `performance.now()` scale) so that the rule is testable without timers.
 */
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
