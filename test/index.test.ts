// The umbrella plugin (index.ts): one-line registration of pool → lanes → httpchk → metrics over a
// real socket, leaving plugins out, an I/O-only app (lanes, no pool), validation of the umbrella's
// own options, and which plugin needs which.
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import backpressure, { httpchkPlugin, metricsPlugin, poolPlugin, type BackpressureOptions } from '../index.js'
import { POOL_PLUGIN_NAME } from '../plugins/pool/index.js'
import { HTTPCHK_PLUGIN_NAME } from '../plugins/httpchk/index.js'
import { METRICS_PLUGIN_NAME } from '../plugins/metrics/index.js'
import { LANES_PLUGIN_NAME } from '../plugins/lanes/index.js'
import { readyError, startApp, THREAD_DEFAULTS, WORKER, withPlugin } from './helpers/app.js'

// THREAD_DEFAULTS keep tap's TypeScript loader out of the worker threads (fast start).
const pool = { filename: WORKER, ...THREAD_DEFAULTS, minThreads: 1, maxThreads: 1 }

/** An app that is never started: its registration is expected to fail at ready(). */
function newApp (test: Test): FastifyInstance {
  const app = Fastify()
  test.teardown(() => app.close())
  return app
}

t.test('one line registers pool, httpchk and metrics, in that order, over a real socket', async (t) => {
  // graceMs 0: app.close() would otherwise keep serving for the drain grace (8 s by default).
  const { app, url } = await startApp(t, withPlugin(backpressure, { pool, httpchk: { drain: { graceMs: 0 } }, metrics: {} }, (app) => {
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

t.test('umbrella options are validated when it registers', async (t) => {
  const cases: Array<{ name: string, options: unknown, option: string, received: RegExp }> = [
    { name: 'lanes not an object', options: { lanes: 'upstream' }, option: 'lanes', received: /received 'upstream'/ },
    { name: 'unknown key', options: { pool, probe: {} }, option: 'options.probe', received: /received \{\}/ },
    { name: 'typo of a known key', options: { pool, metric: false }, option: 'options.metric', received: /received false/ },
    { name: 'httpchk not an object', options: { pool, httpchk: 'yes' }, option: 'httpchk', received: /received 'yes'/ },
    { name: 'httpchk true', options: { pool, httpchk: true }, option: 'httpchk', received: /received true/ },
    { name: 'metrics an array', options: { pool, metrics: [] }, option: 'metrics', received: /received \[\]/ },
    { name: 'pool null', options: { pool: null }, option: 'pool', received: /received null/ }
  ]
  for (const { name, options, option, received } of cases) {
    await t.test(name, async (t) => {
      const app = newApp(t)
      // The cast is the point: these options are wrong on purpose.
      app.register(backpressure, options as BackpressureOptions)
      const error = await readyError(app)
      t.match(error, { code: 'FST_BACKPRESSURE_INVALID_OPTION', statusCode: 500 })
      const message = (error as Error).message
      t.ok(message.includes(`Invalid option "${option}"`), `names ${option}: ${message}`)
      t.match(message, received, 'says what it received')
      t.notOk(app.hasPlugin(POOL_PLUGIN_NAME), 'no pool was started')
    })
  }
})

t.test('pool options are validated through the umbrella too', async (t) => {
  const app = newApp(t)
  app.register(backpressure, { pool: { ...pool, maxThreads: 0 } })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"pool\.maxThreads".*received 0/ })
})

t.test('lanes and no pool: an I/O-only app, with lane metrics', async (t) => {
  const { app, url } = await startApp(t, withPlugin(backpressure, { lanes: { upstream: { concurrency: 2, maxQueue: 8, timeout: 2000 } }, httpchk: false, metrics: { exposeRoute: '/metrics' } }, (app) => {
    app.get('/upstream', async (request) => await request.runInLane('upstream', async (signal) => signal.aborted ? 'aborted' : 'from the main thread'))
  }))
  t.notOk(app.hasPlugin(POOL_PLUGIN_NAME), 'no pool, no worker file')
  t.ok(app.hasPlugin(LANES_PLUGIN_NAME))
  t.equal(await (await fetch(`${url}/upstream`)).text(), 'from the main thread')
  t.match(await (await fetch(`${url}/metrics`)).text(), /backpressure_lane_calls_completed_total\{lane="upstream"\} 1/)
})

t.test('neither pool nor lanes: no metrics plugin (nothing to measure)', async (t) => {
  const { app } = await startApp(t, { ...withPlugin(backpressure, { httpchk: false }), listen: false })
  t.notOk(app.hasPlugin(METRICS_PLUGIN_NAME))
  t.notOk(app.hasPlugin(POOL_PLUGIN_NAME))
})

t.test('metrics without the pool or lanes plugin fails, coded', async (t) => {
  const app = newApp(t)
  app.register(metricsPlugin)
  const error = await readyError(app)
  t.match(error, { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /the pool or the lanes plugin/ })
})

t.test('httpchk needs no pool: an app may have only the probe', async (t) => {
  const { app } = await startApp(t, { ...withPlugin(httpchkPlugin, { drain: { graceMs: 0 } }), listen: false })
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
