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

/**
 * Scrapes `url` (a `/metrics` route) every `intervalMs` until `stop()`, keeping the highest value
 * seen of each metric in `names` (all its series summed, as `metricValue`). For the e2e tests that
 * check a queue stayed bounded for a whole run.
 * @param {string} url
 * @param {string[]} names
 * @param {{ intervalMs?: number }} [options]
 * @returns {{ stop: () => Promise<Record<string, number>> }}
 */
export function watchMax (url, names, { intervalMs = 50 } = {}) {
  const max = Object.fromEntries(names.map((name) => [name, 0]))
  let watching = true
  const done = (async () => {
    while (watching) {
      const text = await (await fetch(url)).text()
      for (const name of names) max[name] = Math.max(max[name], metricValue(text, name) ?? 0)
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  })()
  return {
    async stop () {
      watching = false
      await done
      return max
    }
  }
}
