// The metrics plugin's Graphite push against a real TCP listener on 127.0.0.1: the same figures as
// app.pool.snapshot()/stats(), quiescent and saturated; the listener going away and coming back;
// app.close() destroying the socket. Every wait is on lines, connections or disconnections received.
import t from 'tap'
import metricsPlugin from '../../../plugins/metrics/index.js'
import { startApp, type StartAppOptions } from '../../helpers/app.js'
import { startGraphiteListener, type GraphiteListener, type ReceivedLine } from '../../helpers/graphite-listener.js'
import { GATE_WORKER, Gate, dispatched, threadsReady } from '../../helpers/pool.js'

const THREADS = 2
const PREFIX = 'test.web1'
// The last figure of each push: once it arrives, the whole push has (one write, in order).
const FIRST_PATH = `${PREFIX}.pool.queue_depth`
const LAST_PATH = `${PREFIX}.pool.tasks.failed.crashed`

/** startApp's options for a 2-thread gate-worker pool and the metrics plugin pushing to `listener` every 20 ms. */
function pushingTo (listener: GraphiteListener): StartAppOptions {
  return {
    pool: { filename: GATE_WORKER, minThreads: THREADS, maxThreads: THREADS },
    setup: async (app) => {
      await app.register(metricsPlugin, {
        graphite: { host: '127.0.0.1', port: listener.port, prefix: PREFIX, interval: 20 }
      })
    }
  }
}

/**
 * Waits for the next complete push, received from now on, whose figures satisfy `accept`, and
 * returns it as path → value (the prefix removed). A push is the run of lines ending with LAST_PATH.
 */
async function nextPush (listener: GraphiteListener, accept: (figures: Map<string, number>) => boolean = () => true): Promise<Map<string, number>> {
  let figures = new Map<string, number>()
  let result = figures
  let complete = false
  await listener.waitForLine((line: ReceivedLine) => {
    // A push already half-received when we started is not taken: start at a push's first line.
    if (!complete && line.path !== FIRST_PATH) return false
    complete = true
    figures.set(line.path.slice(PREFIX.length + 1), line.value)
    if (line.path !== LAST_PATH) return false
    result = figures
    figures = new Map()
    return accept(result)
  }, { since: listener.lines.length })
  return result
}

function figure (figures: Map<string, number>, path: string): number {
  const found = figures.get(path)
  if (found === undefined) throw new Error(`no figure ${path}`)
  return found
}

t.test('pushes the same figures as the pool, quiescent and saturated', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  const { app } = await startApp(t, pushingTo(listener))
  await threadsReady(app.pool, THREADS)
  await t.rejects(app.pool.run({ op: 'throw' }))

  // Quiescent: a push taken after the failed task settled carries exactly the pool's figures.
  const quiet = await nextPush(listener, (f) => f.get('pool.tasks.failed.errored') === 1)
  const snapshot = app.pool.snapshot()
  const stats = app.pool.stats()
  t.same(Object.fromEntries(quiet), {
    'pool.queue_depth': snapshot.queued,
    'pool.busy': 0,
    'pool.down': 0,
    'pool.threads': snapshot.threads,
    'pool.idle_threads': snapshot.idleThreads,
    'pool.running_tasks': snapshot.running,
    'pool.transitions.busy': stats.transitions.busy,
    'pool.transitions.free': stats.transitions.free,
    // The warm-up tasks and the failed one (the pool plugin's worker-load check goes straight to
    // piscina, not through the pool: it is in no pool figure).
    'pool.queue_wait.count': THREADS + 1,
    'pool.queue_wait.sum_seconds': figure(quiet, 'pool.queue_wait.sum_seconds'),
    'pool.tasks.submitted': stats.submitted,
    'pool.tasks.completed': stats.completed,
    'pool.tasks.failed.rejected': 0,
    'pool.tasks.failed.displaced': 0,
    'pool.tasks.failed.shed': 0,
    'pool.tasks.failed.aborted': 0,
    'pool.tasks.failed.timed_out': 0,
    'pool.tasks.failed.errored': 1,
    'pool.tasks.failed.crashed': 0
  })
  t.ok(figure(quiet, 'pool.queue_wait.sum_seconds') >= 0)
  t.same([snapshot.queued, snapshot.idleThreads, snapshot.threads], [0, THREADS, THREADS])

  // Saturated: every thread held by a gate task, 7 more queued. Nothing moves until the gate opens.
  const gate = new Gate()
  const allDispatched = dispatched(app.pool, THREADS)
  const holders = Array.from({ length: THREADS }, async () => await app.pool.run({ op: 'gate', gate: gate.cell }))
  await allDispatched
  const queued = Array.from({ length: 7 }, async () => await app.pool.run({ op: 'gate', gate: gate.cell }))
  const busy = await nextPush(listener, (f) => f.get('pool.queue_depth') === 7)
  const frozen = app.pool.snapshot()
  t.same(
    [figure(busy, 'pool.busy'), figure(busy, 'pool.queue_depth'), figure(busy, 'pool.idle_threads'), figure(busy, 'pool.running_tasks'), figure(busy, 'pool.threads')],
    [frozen.busy ? 1 : 0, frozen.queued, frozen.idleThreads, frozen.running, frozen.threads]
  )
  t.same([frozen.busy, frozen.queued, frozen.idleThreads, frozen.running], [true, 7, 0, THREADS])
  t.equal(figure(busy, 'pool.transitions.busy'), 1)
  gate.open()
  await Promise.all([...holders, ...queued])
  const after = await nextPush(listener, (f) => f.get('pool.transitions.free') === 1)
  t.equal(figure(after, 'pool.busy'), 0)
  t.equal(figure(after, 'pool.queue_wait.count'), THREADS + 1 + THREADS + 7, 'the warm-up, the failed task, the holders and the queued')
  t.equal(figure(after, 'pool.queue_wait.count'), figure(after, 'pool.tasks.submitted'), 'one wait per task submitted')
  t.equal(app.backpressureMetrics.graphite?.connected, true)
  t.equal(app.backpressureMetrics.graphite?.stats().connects, 1)
})

t.test('carbon going away and coming back: logged, never thrown, and the push resumes', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  const { app, logs } = await startApp(t, pushingTo(listener))
  await nextPush(listener)
  t.ok(logs.messages('graphite push connected').length > 0, 'the connection is logged')

  await listener.stop()
  // A reconnect is refused while nothing listens: logged at warn, and the app keeps serving.
  const warning = await logs.waitFor('graphite push failed')
  t.equal(warning.level, 40)
  t.match(warning.err, { code: 'ECONNREFUSED' })
  t.equal(app.backpressureMetrics.graphite?.connected, false)
  t.equal((await app.pool.run({ op: 'echo', value: 'still here' })), 'still here')
  await listener.start()
  const resumed = await nextPush(listener, (f) => f.get('pool.tasks.completed') === 1)
  t.equal(figure(resumed, 'pool.tasks.completed'), 1)
  t.equal(listener.connections, 2)
  const stats = app.backpressureMetrics.graphite?.stats()
  t.equal(stats?.connects, 2)
  // Every failed reconnect was logged at warn, none thrown.
  const warnings = logs.messages('graphite push failed')
  t.equal(warnings.length, stats?.errors, 'every error was logged')
  t.ok(warnings.every((log) => log.level === 40))
})

t.test('app.close() stops the push and destroys the socket', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  const { app } = await startApp(t, pushingTo(listener))
  t.equal(figure(await nextPush(listener), 'pool.down'), 0)
  // Closing marks the pool down; shadow the getter to see it pushed before we close.
  Object.defineProperty(app.pool, 'down', { configurable: true, get: () => true })
  t.equal(figure(await nextPush(listener, (f) => f.get('pool.down') === 1), 'pool.down'), 1)
  const disconnected = listener.waitForDisconnect(1)
  await app.close()
  await disconnected
  t.equal(app.backpressureMetrics.graphite?.connected, false)
  const linesAtClose = listener.lines.filter((line) => line.connection === 1).length
  // Another app pushing to the same listener gives the closed one time to misbehave, measured in
  // pushes received rather than in ms.
  const { app: other } = await startApp(t, pushingTo(listener))
  await nextPush(listener)
  await nextPush(listener)
  await other.close()
  t.equal(listener.lines.filter((line) => line.connection === 1).length, linesAtClose, 'nothing more from the closed app')
  t.equal(listener.connections, 2)
})
