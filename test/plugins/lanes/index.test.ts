import { once } from 'node:events'
import { request as httpRequest } from 'node:http'
import Fastify from 'fastify'
import t from 'tap'
import type { LaneSnapshot } from '../../../lib/lane/lane.js'
import lanesPlugin from '../../../plugins/lanes/index.js'
import { normalizeLanes, normalizeLanesOptions } from '../../../plugins/lanes/options.js'
import { isRetryableError } from '../../../lib/executor/retry.js'
import { readyError, startApp, withPlugin } from '../../helpers/app.js'
import { deferred } from '../../helpers/deferred.js'

t.test('app.lanes and request.runInLane: a call runs in its lane; errors answer with their status', async (t) => {
  const busy: LaneSnapshot[] = []
  const free: LaneSnapshot[] = []
  const hold = deferred<string>()
  const { app, url } = await startApp(t, withPlugin(lanesPlugin, {
    lanes: { upstream: { concurrency: 1, maxQueue: 0, retryAfter: 7, onBusy: (s) => busy.push(s), onFree: (s) => free.push(s) }, other: { concurrency: 2, affectsProbe: false } }
  }, (app) => {
    app.get('/held', async (request) => await request.runInLane('upstream', async () => await hold.promise))
    app.get('/fast', async (request) => ({ value: await request.runInLane('other', async (signal) => signal.aborted ? 'aborted' : 'ran') }))
    app.get('/missing', async (request) => await request.runInLane('nope', async () => 1))
  }))
  t.same(Object.keys(app.lanes).sort(), ['other', 'upstream'])
  t.equal(app.lanes.other?.affectsProbe, false)
  t.equal(app.lanes.upstream?.concurrency, 1)

  t.same(await (await fetch(`${url}/fast`)).json(), { value: 'ran' })
  const held = fetch(`${url}/held`)
  while (app.lanes.upstream?.snapshot().running !== 1) await once(app.lanes.upstream!, 'dispatch')
  const full = await fetch(`${url}/held`)
  t.equal(full.status, 503, 'queue full: 503')
  t.equal(full.headers.get('retry-after'), '7', "the lane's own retryAfter")
  t.match(await full.json(), { code: 'FST_BACKPRESSURE_QUEUE_FULL' })
  hold.resolve('done')
  t.equal(await (await held).text(), 'done')

  const missing = await fetch(`${url}/missing`)
  t.equal(missing.status, 500)
  t.equal(missing.headers.get('retry-after'), null, 'not retryable')
  t.match(await missing.json(), { code: 'FST_BACKPRESSURE_LANE_NOT_FOUND', message: /"nope".*upstream, other/ })
  t.equal(busy.length, 0, 'maxQueue 0: nothing ever queued, never busy')
  t.equal(free.length, 0)
  t.ok(isRetryableError(Object.assign(new Error('x'), { code: 'FST_BACKPRESSURE_CLOSED' })))
  t.notOk(isRetryableError('FST_BACKPRESSURE_CLOSED'))
  t.notOk(isRetryableError(new Error('no code')))
})

t.test('busy/free: logged once per transition and passed to onBusy/onFree', async (t) => {
  const events: string[] = []
  const hold = deferred<string>()
  const { app, url, logs } = await startApp(t, withPlugin(lanesPlugin, {
    lanes: { upstream: { concurrency: 1, onBusy: () => events.push('busy'), onFree: () => events.push('free') } }
  }, (app) => {
    app.get('/held', async (request) => await request.runInLane('upstream', async () => await hold.promise))
  }))
  const lane = app.lanes.upstream!
  const first = fetch(`${url}/held`)
  const second = fetch(`${url}/held`)
  await once(lane, 'busy')
  hold.resolve('ok')
  t.same(await Promise.all([(await first).text(), (await second).text()]), ['ok', 'ok'])
  t.same(events, ['busy', 'free'])
  t.equal(logs.messages('lane busy').length, 1)
  t.equal(logs.messages('lane free').length, 1)
  t.match(logs.messages('lane busy')[0], { lane: 'upstream', snapshot: { busy: true, queued: 1 } })
})

t.test('a client that disconnects aborts its call: the function\'s signal fires, the slot frees', async (t) => {
  const started = deferred<AbortSignal>()
  const { app, url } = await startApp(t, withPlugin(lanesPlugin, { lanes: { upstream: { concurrency: 1 } } }, (app) => {
    app.get('/hang', async (request) => await request.runInLane('upstream', async (signal) => {
      started.resolve(signal)
      await new Promise((resolve) => { signal.addEventListener('abort', resolve) })
      return 'never sent'
    }))
  }))
  const { port } = new URL(url)
  const req = httpRequest({ host: '127.0.0.1', port, path: '/hang' })
  req.on('error', () => {})
  req.end()
  const signal = await started.promise
  req.destroy()
  await once(signal, 'abort')
  t.match((signal.reason as { code?: string }).code, 'FST_BACKPRESSURE_TASK_ABORTED')
  const lane = app.lanes.upstream!
  while (lane.snapshot().active !== 0) await new Promise((resolve) => setImmediate(resolve))
  t.match(lane.stats(), { aborted: 1, inFlight: 0 })
})

t.test('runInLane with a caller signal; with a bad signal: coded, not a TypeError', async (t) => {
  const { url } = await startApp(t, withPlugin(lanesPlugin, { lanes: { upstream: { concurrency: 2 } } }, (app) => {
    app.get('/signal', async (request) => await request.runInLane('upstream', async () => 'ok', { signal: new AbortController().signal }))
    app.get('/aborted', async (request) => await request.runInLane('upstream', async () => 'ok', { signal: AbortSignal.abort() }))
    app.get('/bad', async (request) => await request.runInLane('upstream', async () => 'ok', { signal: {} as AbortSignal }))
  }))
  t.equal(await (await fetch(`${url}/signal`)).text(), 'ok')
  t.match(await (await fetch(`${url}/aborted`)).json(), { code: 'FST_BACKPRESSURE_TASK_ABORTED' })
  const bad = await fetch(`${url}/bad`)
  t.equal(bad.status, 500)
  t.match(await bad.json(), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /run\.signal/ })
})

t.test('app.close() closes every lane, letting running tasks finish', async (t) => {
  const hold = deferred<string>()
  const { app, url } = await startApp(t, withPlugin(lanesPlugin, { lanes: { a: { concurrency: 1 }, b: { concurrency: 1, closeTimeout: Infinity } } }, (app) => {
    app.get('/held', async (request) => await request.runInLane('b', async () => await hold.promise))
  }))
  const held = fetch(`${url}/held`)
  while (app.lanes.b?.snapshot().running !== 1) await once(app.lanes.b!, 'dispatch')
  // Fastify closes the server (waiting for the request in flight) before its onClose hooks run.
  const closed = app.close()
  hold.resolve('finished')
  t.equal(await (await held).text(), 'finished')
  await closed
  t.equal(app.lanes.a?.down, true)
  t.equal(app.lanes.b?.down, true)
  t.match(app.lanes.b?.stats(), { completed: 1, inFlight: 0 })
})

t.test('adaptive concurrency from options', async (t) => {
  const { app } = await startApp(t, withPlugin(lanesPlugin, { lanes: { up: { concurrency: { adaptive: { min: 2, max: 8 } } }, down: { concurrency: { adaptive: { min: 1, max: 64, initial: 32 } } } } }))
  t.equal(app.lanes.up?.concurrency, 8, 'starts at 10, clamped to max')
  t.equal(app.lanes.down?.concurrency, 32)
  t.equal(app.lanes.down?.snapshot().concurrency, 32, 'the snapshot says the same')
})

const GOOD = { concurrency: 4 }
const badOptions: Array<[option: string, options: unknown, received: RegExp]> = [
  ['options', 'x', /'x'/],
  ['lanes', {}, /undefined/],
  ['lanes', { lanes: 5 }, /5/],
  ['lanes', { lanes: {} }, /\{\}/],
  ['retryAfter', { lanes: { a: GOOD }, retryAfter: 1 }, /set per lane, as lanes\.<name>\.retryAfter.*received 1/],
  ['typo', { lanes: { a: GOOD }, typo: 1 }, /did you mean "lanes"\?.*received 1/],
  ['lanes.retryAfter', { lanes: { retryAfter: 5 } }, /"retryAfter" is set per lane, as lanes\.<name>\.retryAfter.*received 5/],
  ['lanes.a b', { lanes: { 'a b': GOOD } }, /'a b'/],
  ['lanes.a', { lanes: { a: null } }, /null/],
  ['lanes.a.concurrency', { lanes: { a: {} } }, /undefined/],
  ['lanes.a.concurrency', { lanes: { a: { concurrency: 0 } } }, /0/],
  ['lanes.a.concurrency', { lanes: { a: { concurrency: 1.5 } } }, /1\.5/],
  ['lanes.a.concurrency', { lanes: { a: { concurrency: 'many' } } }, /'many'/],
  ['lanes.a.concurrency.fixed', { lanes: { a: { concurrency: { fixed: 2 } } } }, /2/],
  ['lanes.a.concurrency.adaptive', { lanes: { a: { concurrency: { adaptive: 3 } } } }, /3/],
  ['lanes.a.concurrency.adaptive.max', { lanes: { a: { concurrency: { adaptive: { min: 2 } } } } }, /undefined/],
  ['lanes.a.concurrency.adaptive.max', { lanes: { a: { concurrency: { adaptive: { min: 4, max: 2 } } } } }, /2/],
  ['lanes.a.concurrency.adaptive.min', { lanes: { a: { concurrency: { adaptive: { min: 0, max: 2 } } } } }, /0/],
  ['lanes.a.concurrency.adaptive.initial', { lanes: { a: { concurrency: { adaptive: { min: 1, max: 4, initial: 9 } } } } }, /9/],
  ['lanes.a.concurrency.adaptive.step', { lanes: { a: { concurrency: { adaptive: { max: 4, step: 1 } } } } }, /1/],
  ['lanes.a.maxQueue', { lanes: { a: { ...GOOD, maxQueue: -1 } } }, /-1/],
  ['lanes.a.maxQueue', { lanes: { a: { ...GOOD, maxQueue: 'auto' } } }, /'auto'/],
  ['lanes.a.timeout', { lanes: { a: { ...GOOD, timeout: 2 ** 31 } } }, /2147483648/],
  ['lanes.a.timeout', { lanes: { a: { ...GOOD, timeout: -1 } } }, /-1/],
  ['lanes.a.closeTimeout', { lanes: { a: { ...GOOD, closeTimeout: 2 ** 31 } } }, /2147483648/],
  ['lanes.a.admission', { lanes: { a: { ...GOOD, admission: 'on' } } }, /'on'/],
  ['lanes.a.admission', { lanes: { a: { ...GOOD, admission: true } } }, /expected false or an object.*received true/],
  ['lanes.a.retryAfter', { lanes: { a: { ...GOOD, retryAfter: -1 } } }, /-1/],
  ['lanes.a.admission.target', { lanes: { a: { ...GOOD, admission: { target: -1 } } } }, /-1/],
  ['lanes.a.dwell.busy', { lanes: { a: { ...GOOD, dwell: { busy: 'long' } } } }, /'long'/],
  ['lanes.a.rejectStatusCode', { lanes: { a: { ...GOOD, rejectStatusCode: 500 } } }, /500/],
  ['lanes.a.affectsProbe', { lanes: { a: { ...GOOD, affectsProbe: 'no' } } }, /'no'/],
  ['lanes.a.onBusy', { lanes: { a: { ...GOOD, onBusy: 'log' } } }, /'log'/],
  ['lanes.a.concurency', { lanes: { a: { concurency: 4 } } }, /did you mean "lanes\.a\.concurrency"\?.*received 4/]
]

t.test('each bad lanes option is refused by the normaliser, naming the option and the value received', async (t) => {
  for (const [option, options, received] of badOptions) {
    t.throws(() => normalizeLanesOptions(options), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: new RegExp(`^Invalid option "${option.replace(/[.<>]/g, '\\$&')}"`) }, `${option}: names the option`)
    t.throws(() => normalizeLanesOptions(options), { message: received }, `${option}: names the value received`)
  }
  t.same(normalizeLanes({ a: GOOD }).map((lane) => lane.name), ['a'], "the umbrella's lanes: the same map, the same normaliser")
})

t.test('a bad lanes option surfaces at ready(), and no lane is made', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  void app.register(lanesPlugin, { lanes: { a: { concurrency: 0 } } })
  const error = await readyError(app)
  t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION')
  t.equal(error?.message, 'Invalid option "lanes.a.concurrency": expected an integer >= 1, received 0', 'a lane that could never run a task is refused')
  t.notOk(app.hasDecorator('lanes'))
})

t.test('good options are accepted', async (t) => {
  const { app } = await startApp(t, {
    ...withPlugin(lanesPlugin, {
      lanes: {
        a: { concurrency: 3, maxQueue: 0, timeout: 2000, closeTimeout: Infinity, admission: {}, dwell: { busy: 100, free: 200 }, rejectStatusCode: 429, retryAfter: 0, affectsProbe: false },
        b: { concurrency: { adaptive: { max: 16 } }, maxQueue: Infinity, admission: { target: 10, interval: 200 } }
      }
    }),
    listen: false
  })
  t.equal(await app.lanes.a?.run(async () => 'a'), 'a')
  t.equal(app.lanes.b?.concurrency, 10)
})

t.test('a listener that throws is logged; an adaptive concurrency that changes is logged', async (t) => {
  const { app, logs } = await startApp(t, {
    ...withPlugin(lanesPlugin, {
      lanes: {
        strict: { concurrency: 1, onBusy: () => { throw new Error('listener bug') } },
        adaptive: { concurrency: { adaptive: { min: 1, max: 50, initial: 40 } }, timeout: 5 }
      }
    }),
    logLevel: 'debug'
  })
  const strict = app.lanes.strict!
  const hold = deferred<string>()
  const calls = [strict.run(async () => await hold.promise), strict.run(async () => 'queued')]
  hold.resolve('r')
  await Promise.all(calls)
  t.match(logs.messages('a lane listener threw')[0], { lane: 'strict', err: { message: 'listener bug' } })
  const adaptive = app.lanes.adaptive!
  const changed = once(adaptive, 'concurrency')
  await adaptive.run(async (signal) => { await new Promise((resolve) => { signal.addEventListener('abort', resolve) }) }).catch(() => undefined)
  const [concurrency] = await changed
  t.ok(concurrency < 40, `a timeout lowered the concurrency (${concurrency as number})`)
  t.match(logs.messages('lane concurrency changed').at(-1), { lane: 'adaptive', concurrency }, 'logged at debug level')
})
