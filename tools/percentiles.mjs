// Medians and latency percentiles for the soak and the benchmark. `median` is exact, for the few
// figures of alternating rounds; `Latencies` keeps percentiles of many samples, on Node's own HDR histogram
// (`perf_hooks.createHistogram()`): constant memory whatever the sample count, and no sorting.
// Values are recorded as whole multiples of `resolutionMs` (the histogram takes integers >= 1; by
// default microseconds) and read back in ms, to 3 significant figures (under 1% error).
import { createHistogram } from 'node:perf_hooks'

export class Latencies {
  #histogram = createHistogram()
  #resolutionMs

  /** @param {{ resolutionMs?: number }} [options] the smallest step kept (default 0.001 ms = 1 µs) */
  constructor ({ resolutionMs = 0.001 } = {}) {
    this.#resolutionMs = resolutionMs
  }

  /** @param {number} ms a duration in milliseconds (>= 0) */
  record (ms) {
    this.#histogram.record(Math.max(1, Math.round(ms / this.#resolutionMs)))
  }

  get count () {
    return this.#histogram.count
  }

  /** The `p`-th percentile in ms (0 < p <= 100), or null when nothing was recorded. */
  percentile (p) {
    return this.#histogram.count === 0 ? null : this.#histogram.percentile(p) * this.#resolutionMs
  }

  /** count, p50, p90, p99, max and mean, in ms (null when empty). */
  summary () {
    const empty = this.#histogram.count === 0
    return {
      samples: this.#histogram.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: empty ? null : this.#histogram.max * this.#resolutionMs,
      mean: empty ? null : this.#histogram.mean * this.#resolutionMs
    }
  }
}

/** The median of the finite values (the mean of the middle two for an even count), or null. */
export function median (values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b)
  if (sorted.length === 0) return null
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
