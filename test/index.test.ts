// The umbrella plugin (index.ts): one-line registration of pool → lanes → httpchk → metrics over a
// real socket, leaving plugins out, an I/O-only app (lanes, no pool), validation of the umbrella's
// own options, which plugin needs which, the export list, and the traps the option scheme closes.
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import * as api from '../index.js'
import backpressure, { httpchkPlugin, isRetryableError, metricsPlugin, poolPlugin, type BackpressureOptions } from '../index.js'
import { GATE_WORKER, Gate } from './helpers/pool.js'
import { POOL_PLUGIN_NAME } from '../plugins/pool/index.js'
import { HTTPCHK_PLUGIN_NAME } from '../plugins/httpchk/index.js'
import { METRICS_PLUGIN_NAME } from '../plugins/metrics/index.js'
import { LANES_PLUGIN_NAME } from '../plugins/lanes/index.js'
import { readyError, startApp, THREAD_DEFAULTS, WORKER, withPlugin } from './helpers/app.js'
import { normalizeBackpressureOptions } from '../options.js'
import { deferred } from './helpers/deferred.js'

// THREAD_DEFAULTS keep tap's TypeScript loader out of the worker threads (fast start).
const pool = { filename: WORKER, ...THREAD_DEFAULTS, minThreads: 1, maxThreads: 1 }

/** An app that is never started: its registration is expected to fail at ready(). */
function newApp (test: Test): FastifyInstance {
  const app = Fastify()
  test.teardown(() => app.close())
  return app
}

t.test('one line registers pool, httpchk and metrics, in that order, over a real socket', async (t) => {
  // grace 0: app.close() would otherwise keep serving for the drain grace (8 s by default).
  const { app, url } = await startApp(t, withPlugin(backpressure, { pool, httpchk: { drain: { grace: 0 } }, metrics: {} }, (app) => {
    app.get('/echo', async () => await app.pool.run({ op: 'echo', value: 'from a worker' }))
  }))

  t.ok(app.hasPlugin('fastify-backpressure'), 'the umbrella is registered')
  t.ok(app.hasPlugin(POOL_PLUGIN_NAME), 'pool plugin registered')
  t.ok(app.hasPlugin(HTTPCHK_PLUGIN_NAME), 'httpchk plugin registered')
  t.ok(app.hasPlugin(METRICS_PLUGIN_NAME), 'metrics plugin registered')
  const tree = app.printPlugins()
  const at = (name: string): number => tree.indexOf(`${name} `)
  t.ok(at(POOL_PLUGIN_NAME) >= 0 && at(POOL_PLUGIN_NAME) < at(HTTPCHK_PLUGIN_NAME), 'pool registers before httpchk')
  t.ok(at(HTTPCHK_PLUGIN_NAME) < at(METRICS_PLUGIN_NAME), 'httpchk registers before metrics')

  const echo = await fetch(`${url}/echo`)
  t.equal(echo.status, 200)
  t.equal(await echo.text(), 'from a worker', 'the task ran in the pool')
  const probe = await fetch(`${url}/`, { method: 'OPTIONS' })
  t.equal(probe.status, 200, 'HAProxy\'s default probe OPTIONS / answers 200 with no route for /')
  t.match(app.pool.snapshot(), { busy: false, queued: 0, completed: 1, failed: 0, running: 0 }, 'the probe ran no task')
})

t.test('defaults: httpchk and metrics are on when not given', async (t) => {
  const { app } = await startApp(t, { ...withPlugin(backpressure, { pool }), listen: false })
  t.ok(app.hasPlugin(HTTPCHK_PLUGIN_NAME))
  t.ok(app.hasPlugin(METRICS_PLUGIN_NAME))
})

t.test('httpchk: false and metrics: false leave those plugins out', async (t) => {
  const { app, url } = await startApp(t, withPlugin(backpressure, { pool, httpchk: false, metrics: false }))
  t.ok(app.hasPlugin(POOL_PLUGIN_NAME), 'the pool is still there')
  t.notOk(app.hasPlugin(HTTPCHK_PLUGIN_NAME), 'no httpchk plugin')
  t.notOk(app.hasPlugin(METRICS_PLUGIN_NAME), 'no metrics plugin')
  const probe = await fetch(`${url}/`, { method: 'OPTIONS' })
  t.equal(probe.status, 404, 'nothing answers the probe: the app has no OPTIONS / route')
  t.equal(await app.pool.run({ op: 'echo', value: 3 }), 3)
})

t.test("the umbrella's normaliser: each bad option is refused, naming the option and the value received", async (t) => {
  const cases: Array<{ name: string, options: unknown, option: string, received: RegExp }> = [
    { name: 'lanes not an object', options: { lanes: 'upstream' }, option: 'lanes', received: /received 'upstream'/ },
    { name: 'unknown key', options: { pool, probe: {} }, option: 'probe', received: /received \{\}/ },
    { name: 'typo of a known key', options: { pool, metric: false }, option: 'metric', received: /did you mean "metrics"\?\), received false/ },
    { name: 'a typo in pool, in JavaScript', options: { pool: { ...pool, maxQueu: 3 } }, option: 'pool.maxQueu', received: /did you mean "pool\.maxQueue"\?\), received 3/ },
    { name: 'a typo of a required key', options: { pool: { fileName: WORKER } }, option: 'pool.fileName', received: /did you mean "pool\.filename"\?/ },
    { name: 'a pool option out of range', options: { pool: { ...pool, maxThreads: 0 } }, option: 'pool.maxThreads', received: /received 0/ },
    { name: 'a lane option where a lane belongs', options: { lanes: { retryAfter: 5 } }, option: 'lanes.retryAfter', received: /set per lane, as lanes\.<name>\.retryAfter, received 5/ },
    { name: 'a typo in a lane', options: { lanes: { up: { concurrency: 1, retryAftr: 2 } } }, option: 'lanes.up.retryAftr', received: /did you mean "lanes\.up\.retryAfter"\?/ },
    { name: 'a typo in httpchk.agent', options: { httpchk: { agent: { port: 0, maxQueu: 2 } } }, option: 'httpchk.agent.maxQueu', received: /did you mean "httpchk\.agent\.maxQueue"\?/ },
    { name: 'a typo in metrics.graphite', options: { pool, metrics: { graphite: { intervall: 5 } } }, option: 'metrics.graphite.intervall', received: /did you mean "metrics\.graphite\.interval"\?/ },
    { name: 'pool true', options: { pool: true }, option: 'pool', received: /expected false or an object with at least "filename", received true/ },
    { name: 'httpchk not an object', options: { pool, httpchk: 'yes' }, option: 'httpchk', received: /received 'yes'/ },
    { name: 'httpchk true', options: { pool, httpchk: true }, option: 'httpchk', received: /received true/ },
    { name: 'metrics an array', options: { pool, metrics: [] }, option: 'metrics', received: /received \[\]/ },
    { name: 'pool null', options: { pool: null }, option: 'pool', received: /received null/ },
    { name: 'options not an object', options: 'pool', option: 'options', received: /received 'pool'/ }
  ]
  for (const { name, options, option, received } of cases) {
    t.throws(() => normalizeBackpressureOptions(options), { code: 'FST_BACKPRESSURE_INVALID_OPTION', statusCode: 500 }, `${name}: the coded error`)
    t.throws(() => normalizeBackpressureOptions(options), { message: new RegExp(`^Invalid option "${option.replace(/[.<>]/g, '\\$&')}"`) }, `${name}: names ${option}`)
    t.throws(() => normalizeBackpressureOptions(options), { message: received }, `${name}: says what it received`)
  }
  t.same(normalizeBackpressureOptions({ pool, httpchk: false }), { pool, lanes: undefined, httpchk: undefined, metrics: {} }, 'the sections as given; false leaves a plugin out')
})

t.test('a bad option surfaces at ready() before any plugin starts: a typo in metrics leaves no pool behind', async (t) => {
  const app = newApp(t)
  // The cast is the point: the option is wrong on purpose.
  app.register(backpressure, { pool, metrics: { graphite: { intervall: 5 } } } as BackpressureOptions)
  const error = await readyError(app)
  t.match(error, { code: 'FST_BACKPRESSURE_INVALID_OPTION', statusCode: 500 })
  t.equal(error?.message, 'Invalid option "metrics.graphite.intervall": expected an option "metrics.graphite" knows (did you mean "metrics.graphite.interval"?), received 5')
  t.notOk(app.hasDecorator('pool'), 'no pool was made')
})

t.test('lanes and no pool: an I/O-only app, with lane metrics', async (t) => {
  const { app, url } = await startApp(t, withPlugin(backpressure, { lanes: { upstream: { concurrency: 2, maxQueue: 8, timeout: 2000 } }, httpchk: false, metrics: { exposeRoute: '/metrics' } }, (app) => {
    app.get('/upstream', async (request) => await request.runInLane('upstream', async (signal) => signal.aborted ? 'aborted' : 'from the main thread'))
  }))
  t.notOk(app.hasPlugin(POOL_PLUGIN_NAME), 'no pool, no worker file')
  t.ok(app.hasPlugin(LANES_PLUGIN_NAME))
  t.equal(await (await fetch(`${url}/upstream`)).text(), 'from the main thread')
  t.match(await (await fetch(`${url}/metrics`)).text(), /backpressure_lane_tasks_completed_total\{lane="upstream"\} 1/)
})

t.test('neither pool nor lanes: the metrics route serves the readiness gauges, never a silent 404', async (t) => {
  const { app, url } = await startApp(t, withPlugin(backpressure, { httpchk: { drain: { grace: 0 } }, metrics: { exposeRoute: '/metrics' } }))
  t.ok(app.hasPlugin(METRICS_PLUGIN_NAME))
  t.notOk(app.hasPlugin(POOL_PLUGIN_NAME))
  const response = await fetch(`${url}/metrics`)
  t.equal(response.status, 200)
  const text = await response.text()
  t.match(text, /^backpressure_probe_state\{state="free"\} 1$/m, 'the probe state')
  t.match(text, /^# TYPE backpressure_balancer_server_up gauge$/m, "and each balancer's view")
})

t.test('neither pool, lanes nor httpchk: metrics refuse at ready(), saying why', async (t) => {
  const app = newApp(t)
  app.register(backpressure, { httpchk: false, metrics: { exposeRoute: '/metrics' } })
  const error = await readyError(app)
  t.match(error, { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"metrics": expected the pool, the lanes or the httpchk plugin in the same app \(with none of them there is nothing to measure\)/ })
  const alone = newApp(t)
  alone.register(metricsPlugin)
  t.match(await readyError(alone), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /nothing to measure/ }, 'the plugin alone says the same')
})

t.test('lanes through the umbrella take every lane option, retryAfter included', async (t) => {
  const { app } = await startApp(t, { ...withPlugin(backpressure, { lanes: { up: { concurrency: 1, maxQueue: 0, retryAfter: 5 } }, httpchk: false, metrics: false }), listen: false })
  const release = deferred<void>()
  const hold = app.lanes.up!.run(async () => await release.promise)
  const refused = await app.lanes.up!.run(async () => 'never').catch((error: unknown) => error)
  t.match(refused, { code: 'FST_BACKPRESSURE_QUEUE_FULL', headers: { 'retry-after': '5' } })
  release.resolve()
  await hold
})

t.test("each executor's retry hint answers for its own errors: the pool's never overwrites a lane's", async (t) => {
  const gate = new Gate()
  const laneHeld = deferred<string>()
  const { app, url } = await startApp(t, withPlugin(backpressure, {
    pool: { ...pool, filename: GATE_WORKER, maxQueue: 0, retryAfter: 7 },
    lanes: { up: { concurrency: 1, maxQueue: 0, retryAfter: 2 } },
    httpchk: false,
    metrics: false
  }, (app) => {
    app.get('/lane', async (request) => await request.runInLane('up', async () => await laneHeld.promise))
    app.get('/pool', async (request) => await request.runInPool({ op: 'echo', value: 'pooled' }))
  }))
  const heldLane = fetch(`${url}/lane`)
  while (app.lanes.up!.snapshot().running !== 1) await new Promise((resolve) => setImmediate(resolve))
  const lane = await fetch(`${url}/lane`)
  t.equal(lane.status, 503)
  t.equal(lane.headers.get('retry-after'), '2', "a lane's refusal carries the lane's hint")
  const heldPool = app.pool.run({ op: 'gate', gate: gate.cell })
  const pooled = await fetch(`${url}/pool`)
  t.equal(pooled.status, 503)
  t.equal(pooled.headers.get('retry-after'), '7', "the pool's refusal carries the pool's")
  gate.open()
  await heldPool
  laneHeld.resolve('late')
  t.equal(await (await heldLane).text(), 'late')
})

t.test('the export list: the plugins, the errors, one isRetryableError; no engine class', async (t) => {
  t.same(Object.keys(api).sort(), [
    'RETRYABLE_ERROR_CODES', 'backpressure', 'default', 'errors', 'httpchkPlugin', 'isRetryableError', 'lanesPlugin', 'metricsPlugin', 'poolPlugin'
  ])
  const errorNames = Object.keys(api.errors).sort()
  t.ok(errorNames.every((name) => name.endsWith('Error')), `errors holds error classes only: ${errorNames.join(', ')}`)
  t.notOk('describeValue' in api.errors)
  const closed = [new api.errors.ClosedError('pool'), new api.errors.ClosedError('lane "up"')]
  t.same(closed.map((error) => error.code), ['FST_BACKPRESSURE_CLOSED', 'FST_BACKPRESSURE_CLOSED'], 'one code for a closing executor')
  t.same(closed.map((error) => error.message), ['The pool is closing', 'The lane "up" is closing'], 'the message names the executor')
  t.ok(closed.every((error) => isRetryableError(error)))
  t.same([...api.RETRYABLE_ERROR_CODES].sort(), ['FST_BACKPRESSURE_CLOSED', 'FST_BACKPRESSURE_POOL_DOWN', 'FST_BACKPRESSURE_QUEUE_FULL', 'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED'])
  t.ok(isRetryableError(new api.errors.QueueFullError()))
  t.notOk(isRetryableError(new api.errors.TaskTimeoutError(5)), 'a task that ran may have had effects')
  t.notOk(isRetryableError('FST_BACKPRESSURE_CLOSED'), 'only errors')
  t.notOk(isRetryableError(new Error('no code')))
})

t.test('httpchk needs no pool: an app may have only the probe', async (t) => {
  const { app } = await startApp(t, { ...withPlugin(httpchkPlugin, { drain: { grace: 0 } }), listen: false })
  t.ok(app.hasPlugin(HTTPCHK_PLUGIN_NAME))
  t.notOk(app.hasPlugin(POOL_PLUGIN_NAME))
})

for (const [name, plugin, pluginName] of [
  ['httpchk', httpchkPlugin, HTTPCHK_PLUGIN_NAME],
  ['metrics', metricsPlugin, METRICS_PLUGIN_NAME]
] as const) {
  t.test(`${name} registered on its own after the pool plugin works`, async (t) => {
    const { app } = await startApp(t, {
      pool: false,
      listen: false,
      setup: async (app) => {
        await app.register(poolPlugin, pool)
        await app.register(plugin)
      }
    })
    t.ok(app.hasPlugin(pluginName))
  })
}
