// A small dependency-free SVG line chart writer, used by the demo (docs/images/demo-timeline.svg)
// and the benchmarks. Panels are stacked vertically and share the x axis, like an operator's
// dashboard: e.g. queue depth, busy state and HAProxy's view over the same seconds.
//
//   import { chart, lineChart } from './svg-chart.mjs'
//   writeFileSync('x.svg', lineChart({ title: 'p99', xLabel: 'concurrency', yLabel: 'ms',
//     series: [{ name: 'pool', points: [[1, 3], [2, 5]] }] }))
//
// Series: { name, points: [[x, y], …], color?, step? (draw as a staircase, for states), dashed? }.
// Bands: { from, to, label, color? }: shaded x ranges drawn across every panel (e.g. "blip").
// Output is deterministic for the same input (no dates, no random ids).
//
// Why hand-written: the charts are static SVG files written under plain Node, committed to the docs
// and compared in review. The npm chart libraries draw in a browser or need one: Chart.js renders to
// a canvas (node-canvas, a native build), d3 wants a DOM (jsdom), and Vega-Lite renders SVG headless
// only with its whole compiler and runtime. Stacked line panels with shared x axes, step series and
// shaded bands fit in these ~140 lines with no dependency.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'

/** Escapes text for SVG content and attribute values. */
export function escapeXml (value) {
  return String(value).replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char])
}

/** Round, readable tick values covering [min, max] (about `count` of them). */
export function niceTicks (min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError('ticks need finite bounds')
  if (max === min) max = min + 1
  const raw = (max - min) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= raw)
  const ticks = []
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toFixed(10)))
  }
  return ticks
}

function formatTick (value) {
  return Math.abs(value) >= 1000 ? `${value / 1000}k` : String(value)
}

function pathFor (points, x, y, step) {
  let d = ''
  let previous
  for (const [px, py] of points) {
    if (!Number.isFinite(px) || !Number.isFinite(py)) { previous = undefined; continue }
    if (previous === undefined) d += `M${x(px).toFixed(1)},${y(py).toFixed(1)}`
    else if (step) d += `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`
    else d += `L${x(px).toFixed(1)},${y(py).toFixed(1)}`
    previous = [px, py]
  }
  return d
}

/**
 * Stacked panels sharing one x axis.
 * @param {{ title?: string, xLabel?: string, width?: number, panelHeight?: number, xMin?: number, xMax?: number,
 *   xTicks?: Array<number | [number, string]>,
 *   bands?: Array<{ from: number, to: number, label?: string, color?: string }>,
 *   panels: Array<{ title?: string, yLabel?: string, yMin?: number, yMax?: number,
 *     yTicks?: Array<number | [number, string]>,
 *     series: Array<{ name: string, points: Array<[number, number]>, color?: string, step?: boolean, dashed?: boolean }> }> }} options
 * @returns {string} an SVG document
 */
export function chart (options) {
  const { title = '', xLabel = '', width = 900, panelHeight = 170, bands = [], panels } = options
  if (!Array.isArray(panels) || panels.length === 0) throw new TypeError('chart needs at least one panel')
  const allX = panels.flatMap((panel) => panel.series.flatMap((series) => series.points.map(([px]) => px))).filter(Number.isFinite)
  const xMin = options.xMin ?? (allX.length === 0 ? 0 : Math.min(...allX))
  const xMax = options.xMax ?? (allX.length === 0 ? 1 : Math.max(...allX))
  const left = 64
  const right = 150
  const top = title === '' ? 24 : 56
  const gap = 34
  const bottom = 44
  const plotWidth = width - left - right
  const height = top + panels.length * panelHeight + (panels.length - 1) * gap + bottom
  const x = (value) => left + ((value - xMin) / ((xMax - xMin) || 1)) * plotWidth
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`
  ]
  if (title !== '') out.push(`<text x="${left}" y="24" font-size="15" font-weight="600" fill="#222">${escapeXml(title)}</text>`)

  panels.forEach((panel, index) => {
    const panelTop = top + index * (panelHeight + gap)
    const values = panel.series.flatMap((series) => series.points.map(([, py]) => py)).filter(Number.isFinite)
    const yMin = panel.yMin ?? Math.min(0, ...values)
    const yMax = panel.yMax ?? Math.max(1, ...values)
    const y = (value) => panelTop + panelHeight - ((value - yMin) / ((yMax - yMin) || 1)) * panelHeight
    const ticks = (panel.yTicks ?? niceTicks(yMin, yMax, 4)).map((tick) => Array.isArray(tick) ? tick : [tick, formatTick(tick)])

    for (const band of bands) {
      const from = x(Math.max(band.from, xMin))
      const to = x(Math.min(band.to, xMax))
      if (to <= from) continue
      out.push(`<rect x="${from.toFixed(1)}" y="${panelTop}" width="${(to - from).toFixed(1)}" height="${panelHeight}" fill="${band.color ?? '#fde8c8'}" opacity="0.7"/>`)
      if (index === 0 && band.label !== undefined) out.push(`<text x="${((from + to) / 2).toFixed(1)}" y="${panelTop + 14}" text-anchor="middle" fill="#8a5a00">${escapeXml(band.label)}</text>`)
    }
    out.push(`<rect x="${left}" y="${panelTop}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#999"/>`)
    for (const [value, label] of ticks) {
      const ty = y(value)
      if (ty < panelTop - 0.5 || ty > panelTop + panelHeight + 0.5) continue
      out.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#e4e4e4"/>`)
      out.push(`<text x="${left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end" fill="#555">${escapeXml(label)}</text>`)
    }
    if (panel.title !== undefined) out.push(`<text x="${left + 4}" y="${panelTop - 7}" font-weight="600" fill="#333">${escapeXml(panel.title)}</text>`)
    if (panel.yLabel !== undefined) out.push(`<text transform="translate(16 ${panelTop + panelHeight / 2}) rotate(-90)" text-anchor="middle" fill="#555">${escapeXml(panel.yLabel)}</text>`)

    panel.series.forEach((series, seriesIndex) => {
      const color = series.color ?? PALETTE[seriesIndex % PALETTE.length]
      const d = pathFor(series.points, x, y, series.step === true)
      if (d !== '') out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${series.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
      const ly = panelTop + 14 + seriesIndex * 18
      out.push(`<line x1="${left + plotWidth + 12}" x2="${left + plotWidth + 32}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${series.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`)
      out.push(`<text x="${left + plotWidth + 38}" y="${ly}" fill="#333">${escapeXml(series.name)}</text>`)
    })
  })

  const axisY = top + panels.length * panelHeight + (panels.length - 1) * gap
  // `xTicks` (like a panel's `yTicks`) names the ticks, e.g. categories placed at 0, 1, 2, …
  const xTicks = (options.xTicks ?? niceTicks(xMin, xMax, 10)).map((tick) => Array.isArray(tick) ? tick : [tick, formatTick(tick)])
  for (const [tick, label] of xTicks) {
    const tx = x(tick)
    out.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${axisY}" y2="${axisY + 4}" stroke="#999"/>`)
    out.push(`<text x="${tx.toFixed(1)}" y="${axisY + 17}" text-anchor="middle" fill="#555">${escapeXml(label)}</text>`)
  }
  if (xLabel !== '') out.push(`<text x="${left + plotWidth / 2}" y="${axisY + 36}" text-anchor="middle" fill="#555">${escapeXml(xLabel)}</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** One panel: the common case for benchmarks. */
export function lineChart ({ title, xLabel, yLabel, series, width, height = 320, xMin, xMax, yMin, yMax, bands }) {
  return chart({ title, xLabel, width, panelHeight: height, xMin, xMax, bands, panels: [{ yLabel, series, yMin, yMax }] })
}
