// The metrics plugin over real listen() sockets: every option validated, the scrape route, gauges
// that match app.pool.snapshot() both quiescent and saturated, exact transition and histogram counts,
// lifetime counters, registries (own, shared, two apps in one process) and the executor dependency.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { Registry, Counter } from 'prom-client'
import poolPlugin, { type PoolPluginOptions } from '../../../plugins/pool/index.js'
import metricsPlugin, { METRICS_PLUGIN_NAME, type MetricsPluginOptions } from '../../../plugins/metrics/index.js'
import httpchkPlugin from '../../../plugins/httpchk/index.js'
import lanesPlugin from '../../../plugins/lanes/index.js'
import { DEFAULT_QUEUE_WAIT_BUCKETS, FAILURE_REASONS } from '../../../lib/metrics/executor-metrics.js'
import type { PoolSnapshot } from '../../../lib/pool/pool.js'
import { parseMetrics } from '../../../tools/prometheus-text.mjs'
import { readyError, startApp, type StartAppOptions } from '../../helpers/app.js'
import { GATE_WORKER, Gate, dispatched, threadsReady } from '../../helpers/pool.js'
import { refusal, valueAt } from '../../helpers/options.js'

const THREADS = 2
const GATE_POOL = { filename: GATE_WORKER, minThreads: THREADS, maxThreads: THREADS }

/** startApp's options for a 2-thread gate-worker pool (`pool` on top) and the metrics plugin. */
function withMetrics (metrics: MetricsPluginOptions = { exposeRoute: '/metrics' }, pool: Partial<PoolPluginOptions> = {}): StartAppOptions {
  return { pool: { ...GATE_POOL, ...pool }, setup: async (app) => { await app.register(metricsPlugin, metrics) } }
}

async function scrape (url: string, path = '/metrics'): Promise<Map<string, number>> {
  const response = await fetch(url + path)
  if (response.status !== 200) throw new Error(`scrape answered ${response.status}`)
  return parseMetrics(await response.text())
}

function value (metrics: Map<string, number>, key: string): number {
  const found = metrics.get(key)
  if (found === undefined) throw new Error(`no series ${key} in the scrape`)
  return found
}

/** The scrape's gauges, in the snapshot's own terms. */
function gaugesAsSnapshot (metrics: Map<string, number>, prefix = 'backpressure_'): Omit<PoolSnapshot, 'completed' | 'failed' | 'concurrency'> {
  return {
    busy: value(metrics, `${prefix}pool_busy`) === 1,
    queued: value(metrics, `${prefix}pool_queue_depth`),
    idleThreads: value(metrics, `${prefix}pool_idle_threads`),
    threads: value(metrics, `${prefix}pool_threads`),
    running: value(metrics, `${prefix}pool_running_tasks`)
  }
}

/** The snapshot's fields that have a gauge (the totals are counters; the pool's concurrency is what its options say). */
function withoutTotals ({ completed: _c, failed: _f, concurrency: _n, ...gauges }: PoolSnapshot): Omit<PoolSnapshot, 'completed' | 'failed' | 'concurrency'> {
  return gauges
}

/**
 * Saturates the pool: THREADS gate tasks take every thread, then `queued` more wait in the queue.
 * Nothing changes until `open()`: the state is frozen for as long as the test needs.
 */
async function saturate (app: FastifyInstance, queued: number) {
  const gate = new Gate()
  const onThreads = dispatched(app.pool, THREADS)
  const holders = Array.from({ length: THREADS }, async () => await app.pool.run({ op: 'gate', gate: gate.cell }))
  await onThreads
  const waiting = Array.from({ length: queued }, async () => await app.pool.run({ op: 'gate', gate: gate.cell }))
  return {
    open: () => { gate.open() },
    /** Opens the gate and waits for every task to finish. */
    async release () { gate.open(); await Promise.all([...holders, ...waiting]) }
  }
}

t.test('options are validated by the normaliser, each error naming metrics.<option> and the value', async (t) => {
  const { normalizeMetricsOptions } = await import('../../../plugins/metrics/options.js')
  const cases: Array<[option: string, options: Record<string, unknown>]> = [
    ['metrics.prefix', { prefix: 5 }],
    ['metrics.prefix', { prefix: '1abc' }],
    ['metrics.prefix', { prefix: 'my-app_' }],
    ['metrics.registry', { registry: {} }],
    ['metrics.registry', { registry: null }],
    ['metrics.registry', { registry: 'global' }],
    ['metrics.exposeRoute', { exposeRoute: true }],
    ['metrics.exposeRoute', { exposeRoute: 'metrics' }],
    ['metrics.exposeRoute', { exposeRoute: '/metrics/:id' }],
    ['metrics.exposeRoute', { exposeRoute: 42 }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: [] }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: [0.1, 0.05] }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: [0.1, 0.1] }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: [-1, 1] }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: [1, Infinity] }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: [1, '2'] }],
    ['metrics.queueWaitBuckets', { queueWaitBuckets: '0.1,1' }],
    ['metrics.graphite', { graphite: 'carbon:2003' }],
    ['metrics.graphite', { graphite: true }],
    ['metrics.graphite.host', { graphite: { host: '' } }],
    ['metrics.graphite.port', { graphite: { port: 0 } }],
    ['metrics.graphite.port', { graphite: { port: 70000 } }],
    ['metrics.graphite.port', { graphite: { port: '2003' } }],
    ['metrics.graphite.prefix', { graphite: { prefix: 'a..b' } }],
    ['metrics.graphite.prefix', { graphite: { prefix: 'a b' } }],
    ['metrics.graphite.prefix', { graphite: { prefix: '.a' } }],
    ['metrics.graphite.interval', { graphite: { interval: 0 } }],
    ['metrics.graphite.interval', { graphite: { interval: 1.5 } }],
    ['metrics.graphite.interval', { graphite: { interval: 2 ** 31 } }],
    ['metrics.graphite.intervalMs', { graphite: { intervalMs: 1000 } }],
    ['metrics.graphite.reconnectMinMs', { graphite: { reconnectMinMs: 100 } }],
    ['metrics.graphite.hots', { graphite: { hots: '127.0.0.1' } }],
    ['metrics.exposeroute', { exposeroute: '/metrics' }]
  ]
  for (const [option, options] of cases) {
    t.throws(() => normalizeMetricsOptions(options), refusal(option, valueAt(options, option)), JSON.stringify(options))
  }
  t.throws(() => normalizeMetricsOptions({ graphite: { intervalMs: 1000 } }), { message: /did you mean "metrics\.graphite\.interval"\?/ })
  t.same(normalizeMetricsOptions({ graphite: { interval: 500 } }).graphite, { host: '127.0.0.1', port: 2003, prefix: 'backpressure', intervalMs: 500 })
})

t.test('a bad metrics option surfaces at ready()', async (t) => {
  const app = Fastify()
  void app.register(poolPlugin, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, execArgv: [] })
  void app.register(metricsPlugin, { exposeRoute: 'metrics' })
  const error = await readyError(app)
  t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION')
  t.match(error?.message, /^Invalid option "metrics\.exposeRoute": expected false or a static route path starting with '\/', received 'metrics'$/)
  await app.close()
  t.equal(METRICS_PLUGIN_NAME, 'fastify-backpressure-metrics')
})

t.test('with no executor and no probe there is nothing to measure: ready() says so, and the names are freed', async (t) => {
  const registry = new Registry()
  const app = Fastify()
  void app.register(metricsPlugin, { registry, exposeRoute: '/metrics' })
  const error = await readyError(app)
  t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION')
  t.match(error?.message, /"metrics": expected the pool, the lanes or the httpchk plugin in the same app \(with none of them there is nothing to measure\)/)
  t.same(await registry.getMetricsAsJSON(), [], 'nothing left registered in the registry it was given')
  await app.close()
})

t.test('an executor registered after the metrics plugin would have no metrics: ready() says so', async (t) => {
  for (const [name, register] of [
    ['pool', async (app: FastifyInstance) => { await app.register(poolPlugin, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, execArgv: [] }) }],
    ['lanes', async (app: FastifyInstance) => { await app.register(lanesPlugin, { lanes: { a: { concurrency: 1 } } }) }]
  ] as const) {
    const app = Fastify()
    void app.register(httpchkPlugin, { drain: { grace: 0 } })
    void app.register(metricsPlugin)
    void register(app)
    const error = await readyError(app)
    t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION', name)
    t.match(error?.message, new RegExp(`"metrics": expected the ${name} plugin registered before the metrics plugin`))
    await app.close()
  }
})

t.test('graphite with neither the pool nor the lanes would push nothing: ready() says so', async (t) => {
  const app = Fastify()
  void app.register(httpchkPlugin, { drain: { grace: 0 } })
  void app.register(metricsPlugin, { graphite: { port: 2003 } })
  const error = await readyError(app)
  t.match(error, { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /^Invalid option "metrics\.graphite": expected false unless the pool or the lanes plugin is registered before the metrics plugin/ })
  await app.close()
})

t.test('with only the probe: the readiness gauges, served on the route', async (t) => {
  const { url } = await startApp(t, {
    pool: false,
    httpchk: {},
    setup: async (app) => { await app.register(metricsPlugin, { exposeRoute: '/metrics' }) }
  })
  const metrics = await scrape(url)
  t.equal(value(metrics, 'backpressure_probe_state{state="free"}'), 1)
  t.equal(value(metrics, 'backpressure_probe_state{state="busy"}'), 0)
  t.notOk([...metrics.keys()].some((key) => key.startsWith('backpressure_pool_') || key.startsWith('backpressure_lane_')), 'no executor series')
})

t.test('the route serves the registry with Prometheus\' content type; HEAD works; no route unless asked', async (t) => {
  const { app, url } = await startApp(t, withMetrics())
  const response = await fetch(`${url}/metrics`)
  t.equal(response.status, 200)
  t.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  const text = await response.text()
  t.match(text, '# TYPE backpressure_pool_queue_depth gauge')
  t.match(text, '# TYPE backpressure_pool_transitions_total counter')
  t.match(text, '# TYPE backpressure_pool_queue_wait_seconds histogram')
  t.equal(text, await app.backpressureMetrics.registry.metrics(), 'the route serves exactly the registry')
  const head = await fetch(`${url}/metrics`, { method: 'HEAD' })
  t.equal(head.status, 200)

  const { url: plainUrl, app: plain } = await startApp(t, withMetrics({}))
  t.equal((await fetch(`${plainUrl}/metrics`)).status, 404, 'exposeRoute defaults to off')
  t.type(plain.backpressureMetrics.registry, Registry, 'a registry of its own')
  t.not(plain.backpressureMetrics.registry, app.backpressureMetrics.registry)
  t.equal(plain.backpressureMetrics.graphite, null, 'graphite is off by default')
  t.same(plain.backpressureMetrics.names, [
    'backpressure_pool_queue_depth', 'backpressure_pool_busy', 'backpressure_pool_down', 'backpressure_pool_threads',
    'backpressure_pool_idle_threads', 'backpressure_pool_running_tasks', 'backpressure_pool_transitions_total',
    'backpressure_pool_queue_wait_seconds', 'backpressure_pool_tasks_submitted_total',
    'backpressure_pool_tasks_completed_total', 'backpressure_pool_tasks_failed_total',
    'backpressure_pool_queue_depth_by_priority', 'backpressure_pool_tasks_refused_total',
    'backpressure_probe_state', 'backpressure_balancer_server_up'
  ])
})

t.test('gauges match app.pool.snapshot() when quiescent and while saturated', async (t) => {
  const { app, url } = await startApp(t, withMetrics())
  await threadsReady(app.pool, THREADS)

  const idle = await scrape(url)
  t.same(gaugesAsSnapshot(idle), withoutTotals(app.pool.snapshot()), 'quiescent: all threads idle')
  t.same(gaugesAsSnapshot(idle), { busy: false, queued: 0, idleThreads: THREADS, threads: THREADS, running: 0 })

  for (const queued of [1, 5, 40]) {
    const load = await saturate(app, queued)
    const busy = await scrape(url)
    t.same(gaugesAsSnapshot(busy), withoutTotals(app.pool.snapshot()), `saturated with ${queued} queued: gauges = snapshot`)
    t.same(gaugesAsSnapshot(busy), { busy: true, queued, idleThreads: 0, threads: THREADS, running: THREADS })
    await load.release()
    const after = await scrape(url)
    t.same(gaugesAsSnapshot(after), withoutTotals(app.pool.snapshot()), `after ${queued}: quiescent again`)
    t.equal(value(after, 'backpressure_pool_busy'), 0)
  }
  t.equal(value(await scrape(url), 'backpressure_pool_down'), 0, 'the pool is not down')
})

t.test('one scrape reads one snapshot: gauges agree with each other even when read alone', async (t) => {
  const { app } = await startApp(t, withMetrics({}))
  await threadsReady(app.pool, THREADS)
  const load = await saturate(app, 3)
  const registry = app.backpressureMetrics.registry
  // Read a single gauge: its collect() reads the pool itself (not a stale value from a last scrape).
  t.match(await registry.getSingleMetricAsString('backpressure_pool_queue_depth'), /\nbackpressure_pool_queue_depth 3$/)
  const json = await registry.getMetricsAsJSON()
  const gauge = (name: string): number | undefined => json.find((m) => m.name === name)?.values[0]?.value
  t.equal(gauge('backpressure_pool_busy'), 1)
  t.equal(gauge('backpressure_pool_idle_threads'), 0)
  await load.release()
  t.match(await registry.getSingleMetricAsString('backpressure_pool_queue_depth'), /\nbackpressure_pool_queue_depth 0$/)
})

t.test('the transitions counter moves exactly once per transition', async (t) => {
  const { app, url } = await startApp(t, withMetrics())
  await threadsReady(app.pool, THREADS)
  const events = { busy: 0, free: 0 }
  app.pool.on('busy', () => { events.busy++ })
  app.pool.on('free', () => { events.free++ })
  const before = await scrape(url)
  t.equal(value(before, 'backpressure_pool_transitions_total{to="busy"}'), 0, 'both series exist from the start')
  t.equal(value(before, 'backpressure_pool_transitions_total{to="free"}'), 0)

  for (let cycle = 1; cycle <= 3; cycle++) {
    const load = await saturate(app, 4)
    const busy = await scrape(url)
    t.equal(value(busy, 'backpressure_pool_transitions_total{to="busy"}'), cycle, `cycle ${cycle}: one more busy`)
    t.equal(value(busy, 'backpressure_pool_transitions_total{to="free"}'), cycle - 1)
    await load.release()
    const free = await scrape(url)
    t.equal(value(free, 'backpressure_pool_transitions_total{to="free"}'), cycle, `cycle ${cycle}: one more free`)
  }
  t.same(events, { busy: 3, free: 3 }, 'the pool announced exactly as many transitions')
  t.same(app.pool.stats().transitions, { busy: 3, free: 3 })
})

t.test('the queue-wait histogram counts every dispatched task, and the waits are real', async (t) => {
  const { app, url } = await startApp(t, withMetrics({ exposeRoute: '/metrics', queueWaitBuckets: [0.001, 0.05, 60] }))
  let dispatches = 0
  app.pool.on('dispatch', () => { dispatches++ })
  await threadsReady(app.pool, THREADS)
  const load = await saturate(app, 6)
  const heldSince = performance.now()
  // Hold the queued tasks for at least 60 ms, waiting on a timer: here the wait *is* the test input.
  await new Promise((resolve) => setTimeout(resolve, 60))
  const heldMs = performance.now() - heldSince
  await load.release()
  const metrics = await scrape(url)
  const count = value(metrics, 'backpressure_pool_queue_wait_seconds_count')
  // The pool plugin's worker-load check goes straight to piscina, not through the pool: it is in
  // no pool figure.
  t.equal(count, dispatches, 'one observation per dispatch of a pool task')
  t.equal(count, value(metrics, 'backpressure_pool_tasks_submitted_total'), 'as many as were submitted')
  t.equal(dispatches, THREADS + THREADS + 6, 'the warm-up echoes, the holders and the queued tasks')
  t.equal(dispatches, app.pool.stats().completed, 'every completed task was dispatched once')
  t.equal(value(metrics, 'backpressure_pool_queue_wait_seconds_bucket{le="60"}'), count)
  t.equal(value(metrics, 'backpressure_pool_queue_wait_seconds_bucket{le="+Inf"}'), count)
  const overFiftyMs = count - value(metrics, 'backpressure_pool_queue_wait_seconds_bucket{le="0.05"}')
  t.ok(overFiftyMs >= 6, `the 6 queued tasks waited over 50 ms (held ${heldMs.toFixed(0)} ms): ${overFiftyMs} did`)
  t.ok(value(metrics, 'backpressure_pool_queue_wait_seconds_sum') >= 6 * 0.05, 'the sum is in seconds')
})

t.test('after start-up and two tasks, every counter and the histogram count the same two tasks', async (t) => {
  // The pool plugin's check that the worker file loads (a task given to piscina at ready()) is none of them.
  const { app, url } = await startApp(t, withMetrics())
  t.equal(await app.pool.run({ op: 'echo', value: 1 }), 1)
  t.equal(await app.pool.run({ op: 'echo', value: 2 }), 2)
  const metrics = await scrape(url)
  t.same({
    submitted: value(metrics, 'backpressure_pool_tasks_submitted_total'),
    completed: value(metrics, 'backpressure_pool_tasks_completed_total'),
    queueWaits: value(metrics, 'backpressure_pool_queue_wait_seconds_count'),
    failed: FAILURE_REASONS.reduce((sum, reason) => sum + value(metrics, `backpressure_pool_tasks_failed_total{reason="${reason}"}`), 0)
  }, { submitted: 2, completed: 2, queueWaits: 2, failed: 0 })
  t.match(app.pool.stats(), { submitted: 2, completed: 2, failed: 0 }, 'the pool\'s own counters say the same')
})

t.test('lifetime counters mirror pool.stats(), by failure reason', async (t) => {
  const { app, url } = await startApp(t, withMetrics({ exposeRoute: '/metrics' }, { maxQueue: 1 }))
  await threadsReady(app.pool, THREADS)
  await t.rejects(app.pool.run({ op: 'throw' }), { code: 'FST_BACKPRESSURE_TASK_FAILED' })
  await t.rejects(app.pool.run({ op: 'exit' }), { code: 'FST_BACKPRESSURE_WORKER_CRASHED' })
  await t.rejects(app.pool.run({ op: 'gate', gate: new Gate().cell, ms: 5000 }, { timeout: 20 }), { code: 'FST_BACKPRESSURE_TASK_TIMEOUT' })
  await t.rejects(app.pool.run({ op: 'gate', gate: new Gate().cell, ms: 5000 }, { signal: AbortSignal.abort() }), { code: 'FST_BACKPRESSURE_TASK_ABORTED' })
  await threadsReady(app.pool, THREADS)
  const load = await saturate(app, 1)
  await t.rejects(app.pool.run({ op: 'echo' }), { code: 'FST_BACKPRESSURE_QUEUE_FULL' })
  await load.release()

  const metrics = await scrape(url)
  const stats = app.pool.stats()
  t.equal(value(metrics, 'backpressure_pool_tasks_submitted_total'), stats.submitted)
  t.equal(value(metrics, 'backpressure_pool_tasks_completed_total'), stats.completed)
  const reasons = { rejected: stats.rejected, displaced: stats.displaced, shed: stats.shed, aborted: stats.aborted, timed_out: stats.timedOut, errored: stats.errored, crashed: stats.crashed }
  for (const [reason, expected] of Object.entries(reasons)) {
    t.equal(value(metrics, `backpressure_pool_tasks_failed_total{reason="${reason}"}`), expected, `${reason}: ${expected}`)
  }
  t.same(reasons, { rejected: 1, displaced: 0, shed: 0, aborted: 1, timed_out: 1, errored: 1, crashed: 1 }, 'one of each provoked (shedding is off, no priorities)')
  const again = await scrape(url)
  t.equal(value(again, 'backpressure_pool_tasks_completed_total'), stats.completed, 'a second scrape does not double-count')
})

t.test('queue depth and refusals by priority: displaced, refused, and the sum is the queue', async (t) => {
  const { app, url } = await startApp(t, withMetrics({ exposeRoute: '/metrics' }, { maxQueue: 3 }))
  await threadsReady(app.pool, THREADS)
  const gate = new Gate()
  const onThreads = dispatched(app.pool, THREADS)
  const holders = Array.from({ length: THREADS }, async () => await app.pool.run({ op: 'gate', gate: gate.cell }))
  await onThreads
  const settle = async (promise: Promise<unknown>): Promise<string> => await promise.then(() => 'ok', (error: { code: string }) => error.code)
  const queued = [settle(app.pool.run({ op: 'echo' })), settle(app.pool.run({ op: 'echo' })), settle(app.pool.run({ op: 'echo' }, { priority: 5 }))]
  const urgent = settle(app.pool.run({ op: 'echo' }, { priority: 5 }))
  t.equal(await settle(app.pool.run({ op: 'echo' })), 'FST_BACKPRESSURE_QUEUE_FULL', 'a 0 is refused by a queue whose lowest is 0')
  const metrics = await scrape(url)
  t.equal(value(metrics, 'backpressure_pool_queue_depth_by_priority{priority="5"}'), 2)
  t.equal(value(metrics, 'backpressure_pool_queue_depth_by_priority{priority="0"}'), 1)
  t.equal(value(metrics, 'backpressure_pool_queue_depth'), 3, 'the by-priority series add up to the queue')
  t.equal(value(metrics, 'backpressure_pool_tasks_refused_total{priority="0",reason="displaced"}'), 1)
  t.equal(value(metrics, 'backpressure_pool_tasks_refused_total{priority="0",reason="rejected"}'), 1)
  t.equal(value(metrics, 'backpressure_pool_tasks_refused_total{priority="5",reason="rejected"}'), 0)
  t.equal(value(metrics, 'backpressure_pool_tasks_failed_total{reason="displaced"}'), 1)
  t.equal(value(metrics, 'backpressure_pool_tasks_failed_total{reason="rejected"}'), 1)
  gate.open()
  await Promise.all(holders)
  t.same(await Promise.all([...queued, urgent]), ['ok', 'FST_BACKPRESSURE_QUEUE_FULL', 'ok', 'ok'], 'the newest 0 was displaced')
  const after = await scrape(url)
  t.equal(value(after, 'backpressure_pool_queue_depth_by_priority{priority="5"}'), 0, 'a priority seen keeps its series, at 0')
  t.equal(value(after, 'backpressure_pool_queue_depth_by_priority{priority="0"}'), 0)
})

t.test('pool_down reads the pool\'s down flag when the pool has one', async (t) => {
  const { app, url } = await startApp(t, withMetrics())
  let down = true
  // Shadow (or supply, until the pool gains it) the `down` getter on this instance only.
  Object.defineProperty(app.pool, 'down', { configurable: true, get: () => down })
  t.equal(value(await scrape(url), 'backpressure_pool_down'), 1)
  down = false
  t.equal(value(await scrape(url), 'backpressure_pool_down'), 0)
})

t.test('prefix and buckets shape the names and the le labels', async (t) => {
  const { app, url } = await startApp(t, withMetrics({ exposeRoute: '/stats/prom', prefix: 'shop:web_', queueWaitBuckets: [0.5, 2] }))
  await threadsReady(app.pool, THREADS)
  const metrics = await scrape(url, '/stats/prom')
  t.same(gaugesAsSnapshot(metrics, 'shop:web_'), withoutTotals(app.pool.snapshot()))
  t.ok(metrics.has('shop:web_pool_queue_wait_seconds_bucket{le="0.5"}'))
  t.ok(metrics.has('shop:web_pool_queue_wait_seconds_bucket{le="2"}'))
  t.notOk(metrics.has('shop:web_pool_queue_wait_seconds_bucket{le="0.001"}'))

  const { url: bareUrl } = await startApp(t, withMetrics({ exposeRoute: '/metrics', prefix: '' }))
  t.ok((await scrape(bareUrl)).has('pool_queue_depth'), 'an empty prefix leaves the bare names')
  t.same(DEFAULT_QUEUE_WAIT_BUCKETS, [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
})

t.test('two apps in one process, each with its own registry, never collide', async (t) => {
  const first = await startApp(t, withMetrics())
  const second = await startApp(t, withMetrics())
  await threadsReady(second.app.pool, THREADS)
  const load = await saturate(second.app, 2)
  t.equal(value(await scrape(first.url), 'backpressure_pool_queue_depth'), 0, 'the first app sees its own pool')
  t.equal(value(await scrape(second.url), 'backpressure_pool_queue_depth'), 2, 'the second app sees its own')
  await load.release()
})

t.test('a shared registry: other metrics stay, a name clash is a coded error, close() frees the names', async (t) => {
  const shared = new Registry()
  const theirs = new Counter({ name: 'http_requests_total', help: 'someone else\'s', registers: [shared] })
  theirs.inc(7)
  const first = await startApp(t, withMetrics({ registry: shared, exposeRoute: '/metrics' }))
  t.equal(first.app.backpressureMetrics.registry, shared)
  const metrics = await scrape(first.url)
  t.equal(value(metrics, 'http_requests_total'), 7, 'the shared registry serves the other metrics too')
  t.ok(metrics.has('backpressure_pool_queue_depth'))

  const clash = Fastify()
  void clash.register(poolPlugin, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, execArgv: [] })
  void clash.register(metricsPlugin, { registry: shared })
  const error = await readyError(clash)
  t.equal(error?.code, 'FST_BACKPRESSURE_METRIC_ALREADY_REGISTERED')
  t.match(error?.message, 'A metric named "backpressure_pool_queue_depth" is already registered')
  await clash.close()
  t.equal(shared.getMetricsAsArray().length, 1 + first.app.backpressureMetrics.names.length, 'the clash registered nothing')

  const other = await startApp(t, withMetrics({ registry: shared, prefix: 'second_' }))
  t.ok(shared.getSingleMetric('second_pool_busy'), 'another prefix fits beside')
  await first.app.close()
  await other.app.close()
  t.same(shared.getMetricsAsArray().map((metric) => (metric as unknown as { name: string }).name), ['http_requests_total'], 'close() removed only ours')

  const again = await startApp(t, withMetrics({ registry: shared }))
  t.ok(shared.getSingleMetric('backpressure_pool_queue_depth'), 'a new app registers the same names after close')
  await again.app.close()
})
