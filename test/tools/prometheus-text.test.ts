// tools/prometheus-text.mjs: one metric read from a text exposition, and its lowest and highest
// values watched over a run, against a loopback /metrics route whose figures the test moves.
import { once } from 'node:events'
import { createServer } from 'node:http'
import t from 'tap'
import { metricValue, parseMetrics, watchMax, watchRange } from '../../tools/prometheus-text.mjs'

const TEXT = `# HELP backpressure_lane_concurrency Tasks the lane runs at once now.
# TYPE backpressure_lane_concurrency gauge
backpressure_lane_concurrency{lane="upstream"} 8
backpressure_lane_concurrency{lane="db"} 2
backpressure_lane_concurrency_other 99
backpressure_pool_busy 1
`

t.test('metricValue sums every series of one name, and only that name', async (t) => {
  t.equal(metricValue(TEXT, 'backpressure_lane_concurrency'), 10)
  t.equal(metricValue(TEXT, 'backpressure_pool_busy'), 1)
  t.equal(metricValue(TEXT, 'backpressure_missing'), undefined)
})

t.test('watchRange keeps the lowest and highest values seen; watchMax the highest', async (t) => {
  const values = [8, 3, 5]
  let served = 0
  const server = createServer((_req, res) => {
    const value = values[Math.min(served++, values.length - 1)] as number
    res.end(`backpressure_lane_concurrency{lane="upstream"} ${value}\n`)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`

  const range = watchRange(url, ['backpressure_lane_concurrency', 'backpressure_never'], { intervalMs: 5 })
  while (served < values.length) await new Promise((resolve) => setTimeout(resolve, 5))
  const { min, max } = await range.stop()
  t.same(min, { backpressure_lane_concurrency: 3, backpressure_never: Infinity }, 'lowest; Infinity for a metric never seen')
  t.same(max, { backpressure_lane_concurrency: 8, backpressure_never: 0 }, 'highest; 0 for a metric never seen')

  const highest = watchMax(url, ['backpressure_lane_concurrency'], { intervalMs: 5 })
  t.same(await highest.stop(), { backpressure_lane_concurrency: 5 }, 'watchMax: the highest of what it saw (the last value, repeated)')
})

t.test('parseMetrics maps every sample to its value, skipping comments and blank lines', async (t) => {
  const samples = parseMetrics(TEXT)
  t.equal(samples.get('backpressure_lane_concurrency{lane="db"}'), 2)
  t.equal(samples.get('backpressure_pool_busy'), 1)
  t.equal(samples.size, 4, 'no entry for the # HELP and # TYPE lines')
})
