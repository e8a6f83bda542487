// Reads metrics from a Prometheus text exposition (GET /metrics), for the tests and the demo.
// Enough for gauges and counters; a full parser would be a dependency for two lines of text.

/**
 * Every sample of a text exposition as `name{labels}` → value (comments and blank lines skipped).
 * @param {string} text
 * @returns {Map<string, number>}
 */
export function parseMetrics (text) {
  const values = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    values.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return values
}

/**
 * The sum of every series of `name` (all label sets), or undefined when there is none.
 * @param {string} text
 * @param {string} name
 */
export function metricValue (text, name) {
  let sum
  for (const [series, value] of parseMetrics(text)) {
    if (series === name || series.startsWith(`${name}{`)) sum = (sum ?? 0) + value
  }
  return sum
}

/**
 * Scrapes `url` (a `/metrics` route) every `intervalMs` until `stop()`, keeping the lowest and the
 * highest value seen of each metric in `names` (all its series summed, as `metricValue`). A metric
 * never seen reads Infinity as its lowest and 0 as its highest. For the e2e tests that check a queue
 * stayed bounded, or that an adaptive limit went down, over a whole phase of a run.
 * @param {string} url
 * @param {string[]} names
 * @param {{ intervalMs?: number }} [options]
 * @returns {{ stop: () => Promise<{ min: Record<string, number>, max: Record<string, number> }> }}
 */
export function watchRange (url, names, { intervalMs = 50 } = {}) {
  const min = Object.fromEntries(names.map((name) => [name, Infinity]))
  const max = Object.fromEntries(names.map((name) => [name, 0]))
  let watching = true
  const done = (async () => {
    // eslint-disable-next-line no-unmodified-loop-condition -- `watching` changes in a callback while the loop waits
    while (watching) {
      const text = await (await fetch(url)).text()
      for (const name of names) {
        const value = metricValue(text, name)
        if (value === undefined) continue
        min[name] = Math.min(min[name], value)
        max[name] = Math.max(max[name], value)
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  })()
  return {
    async stop () {
      watching = false
      await done
      return { min, max }
    }
  }
}

/**
 * `watchRange`, the highest values only (0 for a metric never seen).
 * @param {string} url
 * @param {string[]} names
 * @param {{ intervalMs?: number }} [options]
 * @returns {{ stop: () => Promise<Record<string, number>> }}
 */
export function watchMax (url, names, options) {
  const range = watchRange(url, names, options)
  return {
    async stop () {
      return (await range.stop()).max
    }
  }
}
