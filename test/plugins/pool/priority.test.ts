// Priorities through the pool plugin over real sockets: a route's default priority
// (`config: { backpressure: { priority } }`) and a per-call override on request.runInPool(), a
// displaced request answered 503 with Retry-After, bad route priorities refused when the route is
// registered, and routes declared before the plugin (checked on their first call).
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import poolPlugin from '../../../plugins/pool/index.js'
import { readyError, startApp, THREAD_DEFAULTS } from '../../helpers/app.js'
import { GATE_WORKER, Gate } from '../../helpers/pool.js'

const ONE_THREAD = { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 }

/** Holds the pool's one thread with a gate task until `open()`. */
async function holdThread (app: FastifyInstance): Promise<{ open: () => Promise<void> }> {
  await app.pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const holding = app.pool.run({ op: 'gate', gate: gate.cell })
  return { open: async () => { gate.open(); await holding } }
}

/** Until `count` tasks wait in the pool's queue (a request reaches the pool a little after its bytes are sent). */
async function queued (app: FastifyInstance, count: number): Promise<void> {
  while (app.pool.snapshot().queued < count) await new Promise((resolve) => setImmediate(resolve))
}

t.test('a route\'s default priority, and a per-call priority that overrides it', async (t) => {
  const started: string[] = []
  const { app, url } = await startApp(t, {
    pool: ONE_THREAD,
    setup: (app) => {
      const handler = (label: string, options?: { priority?: number }) => async (request: import('fastify').FastifyRequest) => {
        const value = await request.runInPool({ op: 'echo', value: label }, options)
        started.push(String(value))
        return value
      }
      app.get('/critical', { config: { backpressure: { priority: 10 } } }, handler('critical'))
      app.get('/prefetch', { config: { backpressure: { priority: 0 } } }, handler('prefetch'))
      app.get('/plain', handler('plain'))
      app.get('/demoted', { config: { backpressure: { priority: 10 } } }, handler('demoted', { priority: -5 }))
      app.get('/explicit-undefined', { config: { backpressure: { priority: 10 } } }, handler('explicit-undefined', { priority: undefined }))
      app.get('/no-priority', { config: { backpressure: {} } }, handler('no-priority'))
    }
  })
  const thread = await holdThread(app)
  const order = ['/demoted', '/prefetch', '/plain', '/no-priority', '/critical', '/explicit-undefined']
  const answers: Array<Promise<Response>> = []
  for (const [index, path] of order.entries()) {
    answers.push(fetch(url + path))
    await queued(app, index + 1)
  }
  await thread.open()
  const statuses = await Promise.all(answers.map(async (answer) => (await answer).status))
  t.same(statuses, order.map(() => 200))
  t.same(started, ['critical', 'explicit-undefined', 'prefetch', 'plain', 'no-priority', 'demoted'],
    'the route default (10) first, FIFO among equals; 0 routes in arrival order; the per-call -5 last')
  t.same(app.pool.priorities(), [], 'nothing refused, nothing waiting')
})

t.test('a displaced request: 503 with Retry-After and the queue-full code; the critical one is served', async (t) => {
  const { app, url } = await startApp(t, {
    pool: { ...ONE_THREAD, maxQueue: 1, retryAfter: 3 },
    setup: (app) => {
      app.get('/critical', { config: { backpressure: { priority: 10 } } }, async (request) => await request.runInPool({ op: 'echo', value: 'critical' }))
      app.get('/prefetch', async (request) => await request.runInPool({ op: 'echo', value: 'prefetch' }))
    }
  })
  const thread = await holdThread(app)
  const prefetch = fetch(`${url}/prefetch`)
  await queued(app, 1)
  const refused = await fetch(`${url}/prefetch`)
  t.equal(refused.status, 503, 'a second prefetch finds the queue full of its own priority')
  const critical = fetch(`${url}/critical`)
  const displaced = await prefetch
  t.equal(displaced.status, 503)
  t.equal(displaced.headers.get('retry-after'), '3')
  t.match(await displaced.json(), { code: 'FST_BACKPRESSURE_QUEUE_FULL' })
  await thread.open()
  t.equal(await (await critical).text(), 'critical')
  t.match(app.pool.stats(), { rejected: 1, displaced: 1, inFlight: 0 })
})

t.test('a bad route priority fails the route\'s registration, naming the option, the route and the value', async (t) => {
  const cases: Array<[config: unknown, option: string, received: string]> = [
    [{ priority: 1.5 }, 'config.backpressure.priority (route GET /x)', '1.5'],
    [{ priority: null }, 'config.backpressure.priority (route GET /x)', 'null'],
    [{ priority: 1001 }, 'config.backpressure.priority (route GET /x)', '1001'],
    [{ priority: NaN }, 'config.backpressure.priority (route GET /x)', 'NaN'],
    [{ priority: '10' }, 'config.backpressure.priority (route GET /x)', "'10'"],
    [{ prio: 1 }, 'config.backpressure.prio (route GET /x)', '1'],
    [10, 'config.backpressure (route GET /x)', '10'],
    [[], 'config.backpressure (route GET /x)', '[]']
  ]
  for (const [backpressure, option, received] of cases) {
    const app = Fastify({ logger: false })
    await app.register(poolPlugin, { ...THREAD_DEFAULTS, ...ONE_THREAD })
    // Fastify runs no onClose hook once ready() has failed: the test closes the pool itself.
    t.teardown(() => app.pool.close())
    // Inside a plugin, as routes usually are: the error surfaces at ready().
    void app.register(async (scope) => {
      scope.get('/x', { config: { backpressure } as never }, async () => 'x')
    })
    const error = await readyError(app)
    t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION', JSON.stringify(backpressure))
    const expected = option.startsWith('config.backpressure.priority')
      ? 'an integer from -1000 to 1000 (higher first; undefined: the default)'
      : option.startsWith('config.backpressure.prio ') ? 'a known option (priority)' : 'an object ({ priority })'
    t.equal(error?.message, `Invalid option "${option}": expected ${expected}, received ${received}`)
  }
  // At the top level, after the plugin has loaded: app.get() itself throws.
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(poolPlugin, { ...THREAD_DEFAULTS, ...ONE_THREAD })
  t.throws(() => app.get('/late', { config: { backpressure: { priority: -1001 } } }, async () => 'late'), { code: 'FST_BACKPRESSURE_INVALID_OPTION' })
})

t.test('a route declared before the plugin loaded: checked on its first call, a bad one refused, nothing counted', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  // Declared synchronously, before the (queued) plugin registration runs: no onRoute hook saw them.
  app.get('/early', { config: { backpressure: { priority: 7 } } }, async (request) => await request.runInPool({ op: 'echo', value: 'early' }))
  app.get('/early-bad', { config: { backpressure: { priority: 7.5 } } }, async (request) => await request.runInPool({ op: 'echo', value: 'bad' }))
  app.get('/early-priorities', { config: { backpressure: { priority: 7 } } }, async (request) => {
    const error = await request.runInPool({ op: 'echo' }, { priority: 'x' as never }).catch((e: Error & { code?: string }) => e.code)
    return { explicit: error, defaulted: await request.runInPool({ op: 'echo', value: 'ok' }) }
  })
  await app.register(poolPlugin, { ...THREAD_DEFAULTS, ...ONE_THREAD })
  await app.ready()
  t.equal((await app.inject('/early')).body, 'early', 'a good priority works')
  for (let i = 0; i < 2; i++) {
    const bad = await app.inject('/early-bad')
    t.equal(bad.statusCode, 500)
    t.match(bad.json(), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"config\.backpressure\.priority \(route GET \/early-bad\)".*received 7\.5/ })
  }
  t.same((await app.inject('/early-priorities')).json(), { explicit: 'FST_BACKPRESSURE_INVALID_OPTION', defaulted: 'ok' })
  t.match(app.pool.stats(), { submitted: 2, completed: 2, failed: 0 }, 'the refused calls were never counted')
})
