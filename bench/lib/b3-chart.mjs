// The B3 chart: probe latency against queue depth for each approach (p50 solid, p99 dashed), drawn
// with the project's chart writer (scripts/svg-chart.mjs). The latencies span five orders of
// magnitude, so the chart plots log10(ms) with ticks labelled in time units, and the depths
// (0, 10, 100, 1000) as evenly spaced categories.
import { writeFileSync } from 'node:fs'
import { chart } from '../../scripts/svg-chart.mjs'

const SERIES = [
  // Legend names fit the chart writer's 110-pixel legend column.
  { approach: 'hook', name: 'probe', color: '#2ca02c' },
  { approach: 'status', name: '/status', color: '#1f77b4' },
  { approach: 'pool', name: 'pool route', color: '#d62728' }
]

function formatDecade (exponent) {
  const ms = 10 ** exponent
  if (ms >= 1000) return `${ms / 1000} s`
  if (ms >= 1) return `${ms} ms`
  return `${Math.round(ms * 1000)} µs`
}

/** Writes the chart of the blocking-task run (`saturation.kinds.block`) to `path`. */
export function writeB3Chart (path, saturation, machine) {
  const summary = saturation.kinds.block.summary
  const depths = saturation.depths
  const series = SERIES.filter(({ approach }) => summary[approach] !== undefined).flatMap(({ approach, name, color }) =>
    ['p50', 'p99'].map((stat) => ({
      name: `${name} ${stat}`,
      color,
      dashed: stat === 'p99',
      points: depths.map((depth, index) => {
        const ms = summary[approach][depth][stat]
        return [index, ms > 0 ? Math.log10(ms) : Number.NaN]
      })
    })))
  const exponents = series.flatMap(({ points }) => points.map(([, y]) => y)).filter(Number.isFinite)
  // A margin below the lowest line, which would otherwise sit on the frame.
  const yMin = Math.floor(Math.min(...exponents) - 0.25)
  const yMax = Math.ceil(Math.max(...exponents))
  const yTicks = []
  for (let exponent = yMin; exponent <= yMax; exponent++) yTicks.push([exponent, formatDecade(exponent)])

  writeFileSync(path, chart({
    title: 'B3: health-check latency (log scale) with the worker pool saturated',
    xLabel: `tasks queued (${saturation.threads} threads busy, ${saturation.taskMs} ms blocking tasks) · ` +
      `${machine.cores} × ${machine.cpuModel}, Node ${machine.node}, ${machine.date.slice(0, 10)}`,
    width: 820,
    panelHeight: 300,
    xMin: 0,
    xMax: depths.length - 1,
    xTicks: depths.map((depth, index) => [index, String(depth)]),
    // No y label: the chart writer puts it where wide tick labels ("100 ms") would cover it.
    panels: [{ yMin, yMax, yTicks, series }]
  }))
}
