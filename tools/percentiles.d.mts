// Types for tools/percentiles.mjs.
export interface LatencySummary {
  samples: number
  p50: number | null
  p90: number | null
  p99: number | null
  max: number | null
  mean: number | null
}

/** Latencies in ms on `perf_hooks.createHistogram()` (recorded in µs, 3 significant figures). */
export declare class Latencies {
  /** `resolutionMs`: the smallest step kept, default 0.001 (1 µs). */
  constructor (options?: { resolutionMs?: number })
  record (ms: number): void
  readonly count: number
  percentile (p: number): number | null
  summary (): LatencySummary
}

/** The median of the finite values (the mean of the middle two for an even count), or null when there are none. */
export declare function median (values: readonly number[]): number | null
