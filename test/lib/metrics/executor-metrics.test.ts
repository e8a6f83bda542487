// ExecutorMetrics on real lanes (the pool's series are tested through the plugin, on real threads):
// every Graphite path of a lane read from the metrics themselves, one reading per read, the
// histogram series from the start, close() removing the metrics and the listeners; graphitePath's
// rule on each kind of sample.
import t from 'tap'
import { Registry, type Histogram } from 'prom-client'
import { ExecutorMetrics, LANES, graphitePath } from '../../../lib/metrics/executor-metrics.js'
import { createLane } from '../../helpers/pool.js'
import { deferred } from '../../helpers/deferred.js'

async function nextTurn (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

t.test('a lane\'s Graphite figures: every path, read from the metrics, as the lane says', async (t) => {
  const registry = new Registry()
  const lane = createLane(t, { concurrency: 2 })
  const metrics = new ExecutorMetrics(LANES, [lane], { registry, prefix: 'x_', queueWaitBuckets: [0.1, 1] })
  t.teardown(() => { metrics.close() })
  await lane.run(async () => 'ok')
  await t.rejects(lane.run(async () => { throw new Error('no') }))
  const figures = Object.fromEntries(await metrics.graphiteFigures())
  const sum = figures['lanes.upstream.queue_wait.sum_seconds']
  t.ok(typeof sum === 'number' && sum >= 0, 'the waits\' sum, in seconds')
  t.same(figures, {
    'lanes.upstream.queue_depth': 0,
    'lanes.upstream.busy': 0,
    'lanes.upstream.down': 0,
    'lanes.upstream.concurrency': 2,
    'lanes.upstream.running_tasks': 0,
    'lanes.upstream.transitions.busy': 0,
    'lanes.upstream.transitions.free': 0,
    'lanes.upstream.queue_wait.sum_seconds': sum,
    'lanes.upstream.queue_wait.count': 2,
    'lanes.upstream.tasks.submitted': 2,
    'lanes.upstream.tasks.completed': 1,
    'lanes.upstream.tasks.failed.rejected': 0,
    'lanes.upstream.tasks.failed.displaced': 0,
    'lanes.upstream.tasks.failed.shed': 0,
    'lanes.upstream.tasks.failed.aborted': 0,
    'lanes.upstream.tasks.failed.timed_out': 0,
    'lanes.upstream.tasks.failed.errored': 1
  }, 'no tasks.failed.crashed: a lane has no thread to crash')

  const hold = deferred<string>()
  const held = [lane.run(async () => await hold.promise), lane.run(async () => await hold.promise), lane.run(async () => 'queued')]
  await nextTurn() // one reading per turn: the next turn reads afresh
  const busy = new Map(await metrics.graphiteFigures())
  t.same([busy.get('lanes.upstream.busy'), busy.get('lanes.upstream.queue_depth'), busy.get('lanes.upstream.transitions.busy')], [1, 1, 1], 'busy while a task waits with no free slot')
  hold.resolve('r')
  await Promise.all(held)
  await lane.close()
  await nextTurn()
  const closed = new Map(await metrics.graphiteFigures())
  t.same([closed.get('lanes.upstream.down'), closed.get('lanes.upstream.transitions.free')], [1, 1], 'down once closed; the free transition counted')
  t.match(await registry.getSingleMetricAsString('x_lane_down'), /x_lane_down\{lane="upstream"\} 1/, 'the scrape says the same')
})

t.test('one reading per read: every series of one read comes from one snapshot() and one stats()', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  const calls = { snapshot: 0, stats: 0 }
  const { snapshot, stats } = lane
  // Counted, then passed through to the lane's own methods.
  lane.snapshot = () => { calls.snapshot++; return snapshot.call(lane) }
  lane.stats = () => { calls.stats++; return stats.call(lane) }
  const registry = new Registry()
  const metrics = new ExecutorMetrics(LANES, [lane], { registry, prefix: '', queueWaitBuckets: [1] })
  t.teardown(() => { metrics.close() })
  await metrics.graphiteFigures()
  t.same(calls, { snapshot: 1, stats: 1 }, 'a Graphite read')
  await registry.metrics()
  t.same(calls, { snapshot: 2, stats: 2 }, 'a scrape, in a later turn, reads afresh')
  await registry.getSingleMetricAsString('lane_busy')
  t.same(calls, { snapshot: 3, stats: 3 }, 'a metric read alone reads the lane too')
})

t.test('two lanes: one series each, the histogram\'s from the start', async (t) => {
  const registry = new Registry()
  const a = createLane(t, { concurrency: 1 }, {}, 'a')
  const b = createLane(t, { concurrency: 3 }, {}, 'b')
  const metrics = new ExecutorMetrics(LANES, [a, b], { registry, prefix: 'bp_', queueWaitBuckets: [1] })
  t.teardown(() => { metrics.close() })
  const text = await registry.metrics()
  t.match(text, /^bp_lane_queue_wait_seconds_count\{lane="a"\} 0$/m, 'before any task')
  t.match(text, /^bp_lane_queue_wait_seconds_count\{lane="b"\} 0$/m)
  t.match(text, /^bp_lane_concurrency\{lane="b"\} 3$/m)
  t.match(text, /^bp_lane_transitions_total\{lane="a",to="busy"\} 0$/m)
  await b.run(async () => 'ok')
  const figures = new Map(await metrics.graphiteFigures())
  t.same([figures.get('lanes.a.tasks.completed'), figures.get('lanes.b.tasks.completed')], [0, 1])
  t.equal(metrics.names[0], 'bp_lane_queue_depth')
})

t.test('by priority: lanes.<name>.priority.<priority>.…', async (t) => {
  const lane = createLane(t, { concurrency: 1, maxQueue: 1 }, {}, 'db')
  const metrics = new ExecutorMetrics(LANES, [lane], { registry: new Registry(), prefix: '', queueWaitBuckets: [1] })
  t.teardown(() => { metrics.close() })
  const hold = deferred<string>()
  const running = lane.run(async () => await hold.promise)
  const low = lane.run(async () => 'low', { priority: -2 }).catch((e: { code: string }) => e.code)
  const high = lane.run(async () => 'high', { priority: 2 })
  const figures = Object.fromEntries(await metrics.graphiteFigures())
  t.match(figures, {
    'lanes.db.priority.2.queue_depth': 1,
    'lanes.db.priority.-2.queue_depth': 0,
    'lanes.db.priority.-2.tasks.refused.displaced': 1,
    'lanes.db.priority.-2.tasks.refused.rejected': 0,
    'lanes.db.priority.-2.tasks.refused.shed': 0,
    'lanes.db.tasks.failed.displaced': 1
  })
  hold.resolve('r')
  t.same(await Promise.all([running, low, high]), ['r', 'FST_BACKPRESSURE_QUEUE_FULL', 'high'])
})

t.test('close() removes every metric and stops feeding the histogram', async (t) => {
  const registry = new Registry()
  const lane = createLane(t)
  const metrics = new ExecutorMetrics(LANES, [lane], { registry, prefix: '', queueWaitBuckets: [1] })
  const histogram = registry.getSingleMetric('lane_queue_wait_seconds') as Histogram
  await lane.run(async () => 'counted')
  metrics.close()
  t.same(registry.getMetricsAsArray(), [], 'nothing left in the registry')
  await lane.run(async () => 'not counted')
  const count = (await histogram.get()).values.find((sample) => sample.metricName === 'lane_queue_wait_seconds_count')
  t.equal(count?.value, 1, 'no listener left on the lane')
  t.equal(lane.listenerCount('dispatch'), 0)
})

t.test('graphitePath: the rule on each kind of sample', async (t) => {
  const cases: Array<[kind: 'pool' | 'lane', series: string, sample: { labels: Record<string, string | number>, metricName?: string }, path: string | undefined]> = [
    ['pool', 'queue_depth', { labels: {} }, 'pool.queue_depth'],
    ['pool', 'idle_threads', { labels: {} }, 'pool.idle_threads'],
    ['pool', 'running_tasks', { labels: {} }, 'pool.running_tasks'],
    ['pool', 'transitions_total', { labels: { to: 'busy' } }, 'pool.transitions.busy'],
    ['pool', 'tasks_submitted_total', { labels: {} }, 'pool.tasks.submitted'],
    ['pool', 'tasks_failed_total', { labels: { reason: 'timed_out' } }, 'pool.tasks.failed.timed_out'],
    ['pool', 'queue_depth_by_priority', { labels: { priority: '10' } }, 'pool.priority.10.queue_depth'],
    ['pool', 'tasks_refused_total', { labels: { priority: 'other', reason: 'shed' } }, 'pool.priority.other.tasks.refused.shed'],
    ['pool', 'queue_wait_seconds', { labels: {}, metricName: 'bp_pool_queue_wait_seconds_count' }, 'pool.queue_wait.count'],
    ['pool', 'queue_wait_seconds', { labels: {}, metricName: 'bp_pool_queue_wait_seconds_sum' }, 'pool.queue_wait.sum_seconds'],
    ['pool', 'queue_wait_seconds', { labels: { le: 0.1 }, metricName: 'bp_pool_queue_wait_seconds_bucket' }, undefined],
    ['lane', 'concurrency', { labels: { lane: 'db' } }, 'lanes.db.concurrency'],
    ['lane', 'tasks_refused_total', { labels: { lane: 'db', priority: '-5', reason: 'rejected' } }, 'lanes.db.priority.-5.tasks.refused.rejected'],
    ['lane', 'queue_wait_seconds', { labels: { lane: 'db' }, metricName: 'lane_queue_wait_seconds_sum' }, 'lanes.db.queue_wait.sum_seconds']
  ]
  for (const [kind, series, sample, path] of cases) t.equal(graphitePath(kind, series, sample), path, `${kind}_${series} ${JSON.stringify(sample)}`)
})
