// The dependency-free SVG chart writer used by the demo and the benchmarks.
import t from 'tap'
import { chart, escapeXml, lineChart, niceTicks } from '../../scripts/svg-chart.mjs'

t.test('escapeXml escapes markup and quotes', async (t) => {
  t.equal(escapeXml('<a href="x">Tom & Jerry\'s</a>'), '&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;')
})

t.test('niceTicks gives round steps covering the range', async (t) => {
  t.same(niceTicks(0, 37, 10), [0, 5, 10, 15, 20, 25, 30, 35])
  t.same(niceTicks(0, 1, 4), [0, 0.25, 0.5, 0.75, 1])
  t.same(niceTicks(3, 3, 2), [3, 3.5, 4], 'an empty range is widened by 1')
  t.throws(() => niceTicks(0, Infinity), RangeError)
})

t.test('chart draws panels, series, bands and legends', async (t) => {
  const svg = chart({
    title: 'Queue <depth>',
    xLabel: 'seconds',
    bands: [{ from: 2, to: 4, label: 'blip' }, { from: 50, to: 60, label: 'outside' }],
    panels: [
      { title: 'queue', yLabel: 'tasks', series: [{ name: 'app1', points: [[0, 0], [2, 3], [4, 1500]] }, { name: 'gap', dashed: true, points: [[0, 1], [1, Number.NaN], [2, 1]] }] },
      { title: 'state', yMin: -0.1, yMax: 1.1, yTicks: [[0, 'DOWN'], [1, 'UP'], [5, 'off the chart']], series: [{ name: 'app1', step: true, color: '#123456', points: [[0, 1], [3, 0], [4, 1]] }, { name: 'empty', points: [] }] }
    ]
  })
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  t.match(svg, /Queue &lt;depth&gt;/, 'title escaped')
  t.equal(svg.match(/<path /g)?.length, 3, 'one path per non-empty series')
  t.match(svg, /d="M[\d.]+,[\d.]+H[\d.]+V[\d.]+/, 'step series drawn as a staircase')
  t.match(svg, /stroke-dasharray="6 4"/, 'dashed series')
  t.match(svg, /stroke="#123456"/, 'explicit colour')
  t.match(svg, />1\.5k</, 'thousands shortened on the axis')
  t.match(svg, />DOWN</)
  t.notMatch(svg, /off the chart/, 'ticks outside the panel are left out')
  t.equal(svg.match(/>blip</g)?.length, 1, 'band label once, on the first panel')
  t.notMatch(svg, /outside/, 'bands outside the x range are skipped')
  t.match(svg, />seconds</)
  t.equal(chart({ panels: [{ series: [{ name: 'a', points: [[1, 1]] }] }] }), chart({ panels: [{ series: [{ name: 'a', points: [[1, 1]] }] }] }), 'deterministic')
})

t.test('chart handles empty data and refuses no panels', async (t) => {
  const svg = chart({ panels: [{ series: [] }] })
  t.match(svg, /<\/svg>\n$/)
  t.notMatch(svg, /<path /)
  t.throws(() => chart({ panels: [] }), TypeError)
})

t.test('chart takes named x ticks', async (t) => {
  const svg = chart({ xTicks: [[0, 'none'], [1, 'ten'], 2], panels: [{ series: [{ name: 'a', points: [[0, 1], [2, 3]] }] }] })
  t.match(svg, />none</)
  t.match(svg, />ten</)
  t.match(svg, />2</, 'a bare number is labelled as on the default axis')
  t.notMatch(svg, />0\.5</, 'no automatic ticks')
})

t.test('lineChart is a one-panel chart', async (t) => {
  const svg = lineChart({ title: 'p99', xLabel: 'clients', yLabel: 'ms', series: [{ name: 'pool', points: [[1, 3], [2, 5]] }] })
  t.match(svg, />p99</)
  t.match(svg, />ms</)
  t.match(svg, /height="\d+"/)
})
