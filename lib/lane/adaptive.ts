/**
 * An adaptive concurrency limit that follows latency, after Netflix's concurrency-limits
 * (Gradient2Limit) and TCP Vegas; our own code. Once tasks queue downstream, the mean latency of
 * the last window (`shortRtt`) rises above the long-run baseline (`longRtt`), and per window
 * `gradient = clamp(TOLERANCE × longRtt / shortRtt, 0.5, 1)`, `next = limit × gradient + √limit`
 * (Gradient2's queue allowance), smoothed and clamped to `[min, max]`. A timed-out task ends its
 * window at once with a target of half the limit: the strongest sign the downstream is not keeping up.
 */

export interface AdaptiveLimitOptions {
  /** Smallest limit. @default 1 */
  min: number
  /** Largest limit. */
  max: number
  /** Starting limit. @default min(max, max(min, 10)) */
  initial?: number | undefined
}

/** Tasks per measurement window. */
const WINDOW_SIZE = 10
/** Windows the baseline averages over (Gradient2 uses 600 samples). */
const LONG_WINDOWS = 60
/** Latency within this factor of the baseline counts as no worse. Gradient2's default is 1.5;
 * 2 here, because event-loop scheduling adds jitter to latencies measured in-process. */
const TOLERANCE = 2
/** Weight of a new estimate in the limit (Gradient2's default 0.2). */
const SMOOTHING = 0.2

export class AdaptiveLimit {
  readonly #min: number
  readonly #max: number
  #limit: number
  #longRtt = 0
  #windowSum = 0
  #windowCount = 0
  #windowDropped = false

  constructor ({ min, max, initial }: AdaptiveLimitOptions) {
    this.#min = min
    this.#max = max
    this.#limit = initial ?? Math.min(max, Math.max(min, 10))
  }

  /** The current limit, an integer in `[min, max]`. */
  get limit (): number {
    return Math.floor(this.#limit)
  }

  /**
   * Records one settled task: its latency from start to settlement in ms, how many tasks were
   * running when it started (itself included), and whether it timed out. Returns true when the
   * integer limit changed.
   */
  sample (rttMs: number, inFlight: number, dropped: boolean): boolean {
    const before = this.limit
    this.#windowSum += rttMs
    this.#windowCount++
    this.#windowDropped ||= dropped
    if (this.#windowCount < WINDOW_SIZE && !dropped) return false
    const shortRtt = this.#windowSum / this.#windowCount
    const windowDropped = this.#windowDropped
    this.#windowSum = 0
    this.#windowCount = 0
    this.#windowDropped = false
    this.#update(shortRtt, inFlight, windowDropped)
    return this.limit !== before
  }

  #update (shortRtt: number, inFlight: number, dropped: boolean): void {
    let next: number
    if (dropped) {
      // A timed-out call's latency is only a lower bound: it updates no baseline.
      next = this.#limit * 0.5
    } else if (this.#longRtt === 0) {
      this.#longRtt = shortRtt
      return
    } else {
      this.#longRtt += (shortRtt - this.#longRtt) / LONG_WINDOWS
      // A slow period has ended: let the baseline catch up rather than crawl back over 60 windows.
      if (this.#longRtt / shortRtt > 2) this.#longRtt = (this.#longRtt + shortRtt) / 2
      const gradient = Math.max(0.5, Math.min(1, TOLERANCE * this.#longRtt / shortRtt))
      next = this.#limit * gradient + Math.sqrt(this.#limit)
      // App-limited (fewer than half the slots used): latency says nothing about a larger limit.
      if (next > this.#limit && inFlight < this.#limit / 2) next = this.#limit
    }
    next = this.#limit * (1 - SMOOTHING) + next * SMOOTHING
    this.#limit = Math.max(this.#min, Math.min(this.#max, next))
  }
}
