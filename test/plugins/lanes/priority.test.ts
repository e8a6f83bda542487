// Priorities through the lanes plugin over real sockets: a route's default priority and a per-call
// override on request.runInLane(), a displaced request answered 503 with Retry-After, and a bad
// route priority refused when the route is registered (the lanes plugin checks routes on its own,
// with no pool plugin).
import Fastify from 'fastify'
import t from 'tap'
import lanesPlugin from '../../../plugins/lanes/index.js'
import { readyError, startApp, withPlugin } from '../../helpers/app.js'
import { deferred } from '../../helpers/deferred.js'

t.test('route default, per-call override and displacement on a lane', async (t) => {
  const hold = deferred<string>()
  const started: string[] = []
  const { app, url } = await startApp(t, withPlugin(lanesPlugin, { lanes: { upstream: { concurrency: 1, maxQueue: 3, retryAfter: 4 } } }, (app) => {
    app.get('/hold', async (request) => await request.runInLane('upstream', async () => await hold.promise))
    for (const [path, priority, callPriority] of [['/critical', 10, undefined], ['/prefetch', 0, undefined], ['/demoted', 10, -1]] as const) {
      app.get(path, { config: { backpressure: { priority } } }, async (request) =>
        await request.runInLane('upstream', async () => { started.push(path); return path }, callPriority === undefined ? undefined : { priority: callPriority }))
    }
  }))
  const lane = app.lanes.upstream!
  const held = fetch(`${url}/hold`)
  while (lane.snapshot().running !== 1) await new Promise((resolve) => setImmediate(resolve))
  const waitQueued = async (count: number): Promise<void> => { while (lane.snapshot().queued < count) await new Promise((resolve) => setImmediate(resolve)) }
  const demoted = fetch(`${url}/demoted`)
  await waitQueued(1)
  const prefetch = fetch(`${url}/prefetch`)
  await waitQueued(2)
  const prefetch2 = fetch(`${url}/prefetch`)
  await waitQueued(3)
  // Full: [prefetch, prefetch2, demoted (-1)]. A critical call displaces the demoted one.
  const critical = fetch(`${url}/critical`)
  const displaced = await demoted
  t.equal(displaced.status, 503)
  t.equal(displaced.headers.get('retry-after'), '4')
  t.match(await displaced.json(), { code: 'FST_BACKPRESSURE_QUEUE_FULL' })
  const refused = await fetch(`${url}/prefetch`)
  t.equal(refused.status, 503, 'a prefetch (0) finds the lowest waiting at 0: refused')
  hold.resolve('held')
  t.equal(await (await held).text(), 'held')
  t.same(await Promise.all([critical, prefetch, prefetch2].map(async (answer) => await (await answer).text())), ['/critical', '/prefetch', '/prefetch'])
  t.same(started, ['/critical', '/prefetch', '/prefetch'])
  t.match(lane.stats(), { rejected: 1, displaced: 1, completed: 4, inFlight: 0 })
  t.same(lane.priorities().map(({ priority, refused }) => [priority, refused]), [
    [0, { rejected: 1, displaced: 0, shed: 0 }],
    [-1, { rejected: 0, displaced: 1, shed: 0 }]
  ])
})

t.test('the lanes plugin alone refuses a bad route priority at registration', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 1 } } })
  void app.register(async (scope) => {
    scope.post('/x', { config: { backpressure: { priority: -1000.5 } } }, async () => 'x')
  })
  const error = await readyError(app)
  t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION')
  t.equal(error?.message, 'Invalid option "config.backpressure.priority (route POST /x)": expected an integer from -1000 to 1000 (higher first; undefined: the default), received -1000.5')
})

t.test('a route declared before the lanes plugin loaded: a bad priority refuses each call, counting nothing', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  app.get('/early', { config: { backpressure: { priority: 'high' } } as never }, async (request) => await request.runInLane('upstream', async () => 'ran'))
  await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 1 } } })
  await app.ready()
  const answer = await app.inject('/early')
  t.equal(answer.statusCode, 500)
  t.match(answer.json(), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"config\.backpressure\.priority \(route GET \/early\)".*received 'high'/ })
  t.match(app.lanes.upstream?.stats(), { submitted: 0 })
})
