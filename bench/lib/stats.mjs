// Small statistics helpers for the benchmark; the median is tools/percentiles.mjs's.

export { median } from '../../tools/percentiles.mjs'

/** Element-wise ratios of two equally long series; null where either side is missing or zero. */
export function pairedRatios (numerators, denominators) {
  return numerators.map((value, index) => {
    const base = denominators[index]
    return Number.isFinite(value) && Number.isFinite(base) && base !== 0 ? value / base : null
  })
}

/** Least-squares slope of y against x. */
export function slope (points) {
  const n = points.length
  if (n < 2) return null
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n
  let numerator = 0
  let denominator = 0
  for (const [x, y] of points) {
    numerator += (x - meanX) * (y - meanY)
    denominator += (x - meanX) ** 2
  }
  return denominator === 0 ? null : numerator / denominator
}
