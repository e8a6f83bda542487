// Lane metrics over a real listen() socket: one series per lane, labelled {lane="…"}, beside the
// pool's; gauges that match each lane's snapshot while a lane is saturated; counters that mirror
// stats() by reason; the Graphite push; an app with lanes and no pool.
import t from 'tap'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import lanesPlugin from '../../../plugins/lanes/index.js'
import poolPlugin from '../../../plugins/pool/index.js'
import metricsPlugin from '../../../plugins/metrics/index.js'
import { parseMetrics } from '../../../tools/prometheus-text.mjs'
import { readyError, startApp, THREAD_DEFAULTS } from '../../helpers/app.js'
import { GATE_WORKER } from '../../helpers/pool.js'
import { deferred } from '../../helpers/deferred.js'

t.test('lanes only: lane_* series per lane, gauges match the snapshots while saturated, counters by reason', async (t) => {
  const { app, url } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 1, maxQueue: 1 }, db: { concurrency: { adaptive: { min: 1, max: 8, initial: 4 } } } } })
      await app.register(metricsPlugin, { exposeRoute: '/metrics' })
    }
  })
  const upstream = app.lanes.upstream!
  const hold = deferred<string>()
  const running = upstream.run(async () => await hold.promise)
  const queued = upstream.run(async () => 'q')
  const full = upstream.run(async () => 'never').catch((e: { code: string }) => e.code)
  await app.lanes.db!.run(async () => { throw new Error('db down') }).catch(() => undefined)
  const scrape = parseMetrics(await (await fetch(`${url}/metrics`)).text())
  const snapshot = upstream.snapshot()
  t.equal(scrape.get('backpressure_lane_queue_depth{lane="upstream"}'), snapshot.queued)
  t.equal(scrape.get('backpressure_lane_queue_depth{lane="upstream"}'), 1)
  t.equal(scrape.get('backpressure_lane_busy{lane="upstream"}'), 1)
  t.equal(scrape.get('backpressure_lane_running_tasks{lane="upstream"}'), 1)
  t.equal(scrape.get('backpressure_lane_concurrency{lane="upstream"}'), 1)
  t.equal(scrape.get('backpressure_lane_concurrency{lane="db"}'), 4)
  t.equal(scrape.get('backpressure_lane_busy{lane="db"}'), 0)
  t.equal(scrape.get('backpressure_lane_down{lane="db"}'), 0)
  t.equal(scrape.get('backpressure_lane_transitions_total{lane="upstream",to="busy"}'), 1)
  t.equal(scrape.get('backpressure_lane_transitions_total{lane="upstream",to="free"}'), 0)
  t.equal(scrape.get('backpressure_lane_tasks_submitted_total{lane="upstream"}'), 3)
  t.equal(scrape.get('backpressure_lane_tasks_failed_total{lane="upstream",reason="rejected"}'), 1)
  t.equal(scrape.get('backpressure_lane_tasks_failed_total{lane="db",reason="errored"}'), 1)
  t.equal(scrape.get('backpressure_lane_queue_wait_seconds_count{lane="db"}'), 1)
  t.notOk([...scrape.keys()].some((key) => key.startsWith('backpressure_pool_')), 'no pool, no pool series')
  t.equal(await full, 'FST_BACKPRESSURE_QUEUE_FULL')
  hold.resolve('r')
  await Promise.all([running, queued])
  const after = parseMetrics(await (await fetch(`${url}/metrics`)).text())
  t.equal(after.get('backpressure_lane_tasks_completed_total{lane="upstream"}'), 2)
  t.equal(after.get('backpressure_lane_transitions_total{lane="upstream",to="free"}'), 1)
  t.equal(after.get('backpressure_lane_queue_wait_seconds_count{lane="upstream"}'), 2)
  t.ok(app.backpressureMetrics.names.includes('backpressure_lane_concurrency'))
})

t.test('pool and lanes side by side', async (t) => {
  const { url } = await startApp(t, {
    pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 },
    setup: async (app) => {
      await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 2 } } })
      await app.register(metricsPlugin, { exposeRoute: '/metrics' })
    }
  })
  const scrape = parseMetrics(await (await fetch(`${url}/metrics`)).text())
  t.ok(scrape.has('backpressure_pool_queue_depth'))
  t.ok(scrape.has('backpressure_lane_queue_depth{lane="upstream"}'))
})

t.test('a lane metric name clash registers nothing, the pool\'s included', async (t) => {
  const registry = new Registry()
  await startApp(t, {
    pool: false,
    listen: false,
    setup: async (app) => {
      await app.register(lanesPlugin, { lanes: { a: { concurrency: 1 } } })
      await app.register(metricsPlugin, { registry })
    }
  })
  const before = registry.getMetricsAsArray().length
  const app = Fastify()
  t.teardown(() => app.close())
  void app.register(poolPlugin, { filename: GATE_WORKER, ...THREAD_DEFAULTS, minThreads: 1, maxThreads: 1 })
  void app.register(lanesPlugin, { lanes: { a: { concurrency: 1 } } })
  void app.register(metricsPlugin, { registry, prefix: 'backpressure_' })
  const error = await readyError(app)
  t.equal(error?.code, 'FST_BACKPRESSURE_METRIC_ALREADY_REGISTERED')
  t.equal(registry.getMetricsAsArray().length, before, 'nothing more registered')
})

t.test('lanes only with Graphite: the push carries lanes.<name>.… and no pool figure', async (t) => {
  const { startGraphiteListener } = await import('../../helpers/graphite-listener.js')
  const listener = await startGraphiteListener(t.teardown)
  const { app } = await startApp(t, {
    pool: false,
    listen: false,
    setup: async (app) => {
      await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 2 } } })
      await app.register(metricsPlugin, { graphite: { host: '127.0.0.1', port: listener.port, prefix: 'bp', interval: 20 } })
    }
  })
  await app.lanes.upstream!.run(async () => 'ok')
  const line = await listener.waitForLine((received) => received.path === 'bp.lanes.upstream.tasks.completed' && received.value === 1)
  t.equal(line.value, 1, 'the lane\'s completed tasks reached carbon')
  t.notOk(listener.lines.some((received) => received.path.startsWith('bp.pool.')), 'no pool, no pool figures')
})

t.test('by priority: at most MAX_PRIORITY_LABELS values per lane, later priorities summed under "other"', async (t) => {
  const { app, url } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 1, maxQueue: 12 } } })
      await app.register(metricsPlugin, { exposeRoute: '/metrics' })
    }
  })
  const upstream = app.lanes.upstream!
  const hold = deferred<string>()
  const running = upstream.run(async () => await hold.promise)
  // 12 distinct priorities wait at once: the 10 highest get a label each, 2 and 1 go to "other".
  const queued = Array.from({ length: 12 }, async (_, index) => await upstream.run(async () => 'ok', { priority: index + 1 }).catch((e: { code: string }) => e.code))
  const refused = await upstream.run(async () => 'never', { priority: 1 }).catch((e: { code: string }) => e.code)
  t.equal(refused, 'FST_BACKPRESSURE_QUEUE_FULL')
  const scrape = parseMetrics(await (await fetch(`${url}/metrics`)).text())
  const labels = [...scrape.keys()].filter((key) => key.startsWith('backpressure_lane_queue_depth_by_priority{'))
    .map((key) => /priority="([^"]+)"/.exec(key)?.[1])
  t.same(labels.sort(), ['10', '11', '12', '3', '4', '5', '6', '7', '8', '9', 'other'])
  t.equal(scrape.get('backpressure_lane_queue_depth_by_priority{lane="upstream",priority="12"}'), 1)
  t.equal(scrape.get('backpressure_lane_queue_depth_by_priority{lane="upstream",priority="other"}'), 2)
  t.equal(scrape.get('backpressure_lane_tasks_refused_total{lane="upstream",priority="other",reason="rejected"}'), 1, 'a refused 1 counts under "other"')
  t.equal(scrape.get('backpressure_lane_tasks_refused_total{lane="upstream",priority="12",reason="rejected"}'), 0)
  // A 13th priority later still goes to "other"; the labels given stay.
  const displacing = upstream.run(async () => 'urgent', { priority: 100 })
  const after = parseMetrics(await (await fetch(`${url}/metrics`)).text())
  t.equal(after.get('backpressure_lane_queue_depth_by_priority{lane="upstream",priority="other"}'), 2, '100 joined "other", priority 1 was displaced')
  t.equal(after.get('backpressure_lane_tasks_refused_total{lane="upstream",priority="other",reason="displaced"}'), 1)
  t.equal(after.get('backpressure_lane_tasks_failed_total{lane="upstream",reason="displaced"}'), 1)
  hold.resolve('r')
  const results = await Promise.all([running, displacing, ...queued])
  t.same(results, ['r', 'urgent', 'FST_BACKPRESSURE_QUEUE_FULL', ...Array.from({ length: 11 }, () => 'ok')], 'only the priority 1 call, the newest of the lowest, was displaced')
})
