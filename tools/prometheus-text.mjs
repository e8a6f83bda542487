// Reads a metric from a Prometheus text exposition (GET /metrics), for the e2e tests and the demo.
// Enough for gauges and counters; a full parser would be a dependency for two lines of text.

/**
 * The sum of every series of `name` (all label sets), or undefined when there is none.
 * @param {string} text
 * @param {string} name
 */
export function metricValue (text, name) {
  const lines = text.split('\n').filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
  if (lines.length === 0) return undefined
  return lines.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
}
