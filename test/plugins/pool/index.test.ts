import { once } from 'node:events'
import { join } from 'node:path'
import { request as httpRequest } from 'node:http'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import type { PoolSnapshot } from '../../../lib/pool/pool.js'
import { BROKEN_WORKER, GATE_WORKER, Gate, NO_EXPORT_WORKER, WORKER, createPool, fragileWorker } from '../../helpers/pool.js'
import { startApp } from '../../helpers/app.js'
import { normalizePoolOptions } from '../../../plugins/pool/options.js'
import { refusal } from '../../helpers/options.js'
import { deferred } from '../../helpers/deferred.js'

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The value or the error a promise settles with. */
const settle = async (promise: PromiseLike<unknown>): Promise<unknown> => await promise.then((v) => v, (e: unknown) => e)

/** What `fn` returns, or what it throws. */
function settleSync (fn: () => unknown): unknown {
  try { return fn() } catch (error) { return error }
}

t.test('busy/free: callbacks, events and info logs once per transition, with the snapshot', async (t) => {
  const onBusy: PoolSnapshot[] = []
  const onFree: PoolSnapshot[] = []
  const { app, logs } = await startApp(t, {
    pool: {
      filename: GATE_WORKER,
      minThreads: 1,
      maxThreads: 1,
      onBusy: (s) => { onBusy.push(s) },
      onFree: (s) => { onFree.push(s) }
    },
    listen: false
  })
  await app.pool.run({ op: 'echo', value: 1 }) // the thread is up
  const events: Array<[string, PoolSnapshot]> = []
  app.pool.on('busy', (s) => { events.push(['busy', s]) })
  app.pool.on('free', (s) => { events.push(['free', s]) })

  const gate = new Gate()
  const tasks = [app.pool.run({ op: 'gate', gate: gate.cell }), app.pool.run({ op: 'echo', value: 2 }), app.pool.run({ op: 'echo', value: 3 })]
  t.equal(app.pool.busy, true, 'busy as soon as a task waits with no idle thread')
  t.equal(onBusy.length, 1)
  t.match(onBusy[0], { busy: true, queued: 1, idleThreads: 0, threads: 1, running: 1, completed: 1, failed: 0 }, 'the snapshot at the moment of the transition')
  gate.open()
  t.same(await Promise.all(tasks), ['ok', 2, 3], 'every task ran')
  t.equal(app.pool.busy, false)
  t.equal(onBusy.length, 1, 'onBusy once')
  t.equal(onFree.length, 1, 'onFree once')
  t.match(onFree[0], { busy: false, queued: 0 })
  t.same(events.map(([to]) => to), ['busy', 'free'], 'events once each, in order')
  t.same(events[0]?.[1], onBusy[0], 'events and callbacks get the same snapshot')
  t.same(app.pool.stats().transitions, { busy: 1, free: 1 })

  const busyLogs = logs.messages('worker pool busy')
  const freeLogs = logs.messages('worker pool free')
  t.equal(busyLogs.length, 1)
  t.equal(freeLogs.length, 1)
  t.equal(busyLogs[0]?.level, 30, 'info level')
  t.same(busyLogs[0]?.pool, onBusy[0], 'the log carries the snapshot')
  t.same(freeLogs[0]?.pool, onFree[0])
})

t.test('app.close() lets queued tasks finish', async (t) => {
  const { app } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 }, listen: false })
  await app.pool.run({ op: 'echo', value: 0 }) // the thread is up
  const gate = new Gate()
  const running = app.pool.run({ op: 'gate', gate: gate.cell })
  const queued = [1, 2, 3, 4].map((value) => app.pool.run({ op: 'echo', value }))
  t.equal(app.pool.snapshot().queued, 4)
  const down = once(app.pool, 'down')
  const closing = app.close()
  t.same((await down)[0], 'closing', 'the down event says why')
  t.equal(app.pool.down, true, 'down while closing')
  t.match(await settle(app.pool.run({ op: 'echo', value: 5 })), { code: 'FST_BACKPRESSURE_CLOSED', statusCode: 503 }, 'no new task once closing')
  gate.open()
  t.equal(await running, 'ok', 'the running task finished')
  t.same(await Promise.all(queued), [1, 2, 3, 4], 'queued tasks ran to the end')
  await closing
  t.match(app.pool.snapshot(), { queued: 0, running: 0 })
})

t.test('app.close() is bounded by closeTimeout', async (t) => {
  const { app } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, closeTimeout: 200 }, listen: false })
  const gate = new Gate()
  const stuck = settle(app.pool.run({ op: 'gate', gate: gate.cell, ms: 20000 }))
  const started = performance.now()
  await app.close()
  const took = performance.now() - started
  t.ok(took < 5000, `close returned after ${Math.round(took)} ms, not after the 20 s task`)
  t.match(await stuck, { code: 'FST_BACKPRESSURE_CLOSED' }, 'the unfinished task is rejected')
  gate.open()
})

const GOOD = { filename: WORKER, execArgv: [] }
const badOptions: Array<[option: string, value: unknown, extra?: Record<string, unknown>]> = [
  ['filename', 123],
  ['filename', ''],
  ['minThreads', 0],
  ['minThreads', 1.5],
  ['minThreads', 'two'],
  ['minThreads', 3, { minThreads: 3, maxThreads: 2 }],
  ['maxThreads', 0],
  ['maxThreads', Infinity],
  ['idleTimeout', -1],
  ['concurrentTasksPerWorker', 0],
  ['closeTimeout', -5],
  ['closeTimeout', 'soon'],
  ['closeTimeout', 2 ** 31],
  ['recordTiming', 'x'],
  ['resourceLimits', 'x'],
  ['execArgv', ['--no-such-flag']],
  ['maxQueue', -1],
  ['maxQueue', 2.5],
  ['maxQueue', 'big'],
  ['stricterFIFO', 'yes'],
  ['loadBalancer', 'round-robin'],
  ['timeout', -1],
  ['timeout', 2 ** 31],
  ['timeout', '5s'],
  ['admission', 'on'],
  ['admission', true],
  ['admission.target', -1, { admission: { target: -1 } }],
  ['admission.interval', 0, { admission: { interval: 0 } }],
  ['admission.window', 5, { admission: { window: 5 } }],
  ['dwell', 10],
  ['dwell.busy', -1, { dwell: { busy: -1 } }],
  ['dwell.free', 'long', { dwell: { free: 'long' } }],
  ['dwell.both', 1, { dwell: { both: 1 } }],
  ['rejectStatusCode', 500],
  ['retryAfter', -1],
  ['retryAfter', 1.5],
  ['retryAfter', 86_401],
  ['onBusy', 'log'],
  ['onFree', 1],
  // piscina's queue is the pool's hand-off: a queue of the user's could not take effect.
  ['taskQueue', { size: 0 }],
  // Checked by piscina itself, its error coded and renamed.
  ['atomics', 'fast'],
  ['niceIncrement', -1]
]

/** Options piscina (or Node's Worker) checks itself, when the pool is built: the pool renames its errors. */
const CHECKED_BY_PISCINA = new Set(['recordTiming', 'resourceLimits', 'execArgv', 'atomics', 'niceIncrement'])

t.test('each bad pool option is refused, naming the option and the value received (the normaliser, or piscina renamed)', async (t) => {
  for (const [option, value, extra] of badOptions) {
    const options = { ...GOOD, ...(extra ?? { [option]: value }) }
    const build = CHECKED_BY_PISCINA.has(option)
      ? () => createPool(t, options as never)
      : () => normalizePoolOptions(options)
    t.throws(build, refusal(`pool.${option}`, value), `pool.${option} = ${String(value)}`)
  }
})

t.test("an idle thread waits in its event loop (atomics 'disabled') unless told otherwise: a timer a task left runs with no task after it", async (t) => {
  t.equal(normalizePoolOptions(GOOD).piscina.atomics, 'disabled', 'the default')
  t.equal(normalizePoolOptions({ ...GOOD, atomics: 'sync' }).piscina.atomics, 'sync', "the user's choice reaches piscina")
  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  const channel = new BroadcastChannel('pool-later')
  t.teardown(() => { channel.close() })
  const fired = once(channel, 'message')
  t.equal(await pool.run({ op: 'later', channel: 'pool-later', value: 'fired', ms: 5 }), 'scheduled')
  // With 'sync' the thread would sit in Atomics.wait() and the timer would wait for the next task.
  const [message] = await fired as [MessageEvent]
  t.equal(message.data, 'fired')
})

t.test('a bad pool option surfaces at ready(), and no pool is started', async (t) => {
  const Fastify = (await import('fastify')).default
  const poolPlugin = (await import('../../../plugins/pool/index.js')).default
  const app = Fastify()
  t.teardown(() => app.close())
  void app.register(poolPlugin, { ...GOOD, maxQueu: 3 } as never)
  const error = await settle(app.ready()) as Error & { code?: string }
  t.equal(error.code, 'FST_BACKPRESSURE_INVALID_OPTION')
  t.equal(error.message, 'Invalid option "pool.maxQueu": expected an option "pool" knows (did you mean "pool.maxQueue"?), received 3')
  t.notOk(app.hasDecorator('pool'))
})

t.test('unknown keys are checked before required ones: a misspelt filename is reported as the typo it is', async (t) => {
  t.throws(() => normalizePoolOptions({ fileName: WORKER }), {
    code: 'FST_BACKPRESSURE_INVALID_OPTION',
    message: /^Invalid option "pool\.fileName": expected an option "pool" knows \(did you mean "pool\.filename"\?\)/
  })
  t.throws(() => normalizePoolOptions({}), { message: /"pool\.filename": expected a worker file path or file: URL, received undefined/ }, 'a missing one is reported as missing')
})

t.test("piscina's options pass through to piscina; a name neither piscina nor the pool knows is refused", async (t) => {
  const Fastify = (await import('fastify')).default
  const poolPlugin = (await import('../../../plugins/pool/index.js')).default
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(poolPlugin, { ...GOOD, workerHistogram: true, niceIncrement: 0 })
  await app.ready()
  t.equal(app.pool.piscina.options.workerHistogram, true, 'a piscina option the pool never mentions reaches piscina')
  t.equal(app.pool.piscina.options.maxQueue, Infinity, "the pool's maxQueue is its own: piscina's stays unbounded")

  t.throws(() => normalizePoolOptions({ ...GOOD, workerHistogramm: true }), {
    code: 'FST_BACKPRESSURE_INVALID_OPTION',
    message: 'Invalid option "pool.workerHistogramm": expected an option "pool" knows (did you mean "pool.workerHistogram"?), received true'
  })
})

/** A balancer of the user's own: piscina's `loadBalancer` option passes through unchanged. */
function firstWorker<W> (_task: unknown, workers: W[]): W | null {
  return workers[0] ?? null
}

t.test('good option values are accepted', async (t) => {
  for (const options of [
    { maxQueue: 'auto' as const }, { maxQueue: Infinity }, { maxQueue: 3 }, { maxQueue: 0 }, { admission: {} }, { admission: false as const },
    { admission: { target: 10, interval: 200 } }, { dwell: { busy: 100, free: 500 } }, { rejectStatusCode: 429 as const },
    { retryAfter: 0 }, { minThreads: 1, maxThreads: 1, idleTimeout: 1000, closeTimeout: 0, stricterFIFO: false, timeout: 5000 },
    { filename: pathToFileURL(WORKER) }, { filename: pathToFileURL(WORKER).href }, { loadBalancer: firstWorker },
    { closeTimeout: Infinity, recordTiming: true }
  ]) {
    const { app } = await startApp(t, { pool: options, listen: false })
    // Queue-wait admission counts a thread's start-up as queueing; start from a ready thread.
    if (app.pool.piscina.idleThreads === 0) await once(app.pool.piscina, 'workerCreate')
    t.equal(await app.pool.run({ op: 'echo', value: 'ok' }), 'ok', JSON.stringify(options))
    await app.close()
  }
})

t.test('a worker file that does not exist: FST_BACKPRESSURE_WORKER_NOT_FOUND', async (t) => {
  for (const filename of ['/nonexistent/worker.mjs', pathToFileURL('/nonexistent/worker.mjs').href, new URL('file:///nonexistent/worker.mjs')]) {
    t.throws(() => normalizePoolOptions({ filename, execArgv: [] }), {
      code: 'FST_BACKPRESSURE_WORKER_NOT_FOUND',
      message: new RegExp(escape(fileURLToPath(pathToFileURL('/nonexistent/worker.mjs'))))
    }, String(filename))
  }
})

t.test('a relative worker path that does not exist: the error says what it was resolved against', async (t) => {
  for (const [filename, suggested] of [['./missing-worker.mjs', './missing-worker.mjs'], ['missing-worker.mjs', './missing-worker.mjs']] as const) {
    const error = settleSync(() => normalizePoolOptions({ filename, execArgv: [] })) as Error & { code?: string }
    t.equal(error.code, 'FST_BACKPRESSURE_WORKER_NOT_FOUND')
    t.match(error.message, `${join(process.cwd(), 'missing-worker.mjs')} (the relative path "${filename}" was resolved against process.cwd(), ${process.cwd()}`)
    t.match(error.message, `new URL('${suggested}', import.meta.url)`, 'shows the form that resolves next to the module')
  }
})

interface Answer { status: number, headers: Headers, body: Record<string, unknown> }
async function get (url: string, init?: RequestInit): Promise<Answer> {
  const response = await fetch(url, init)
  const text = await response.text()
  const json = response.headers.get('content-type')?.startsWith('application/json') === true
  return { status: response.status, headers: response.headers, body: json ? JSON.parse(text) as Record<string, unknown> : { text } }
}

/** Fills a 1-thread pool: one gate task running, then echo tasks until the queue refuses one. */
async function saturate (app: import('fastify').FastifyInstance, gate: Gate): Promise<Array<Promise<unknown>>> {
  await app.pool.run({ op: 'echo', value: 'warm' })
  const held = [settle(app.pool.run({ op: 'gate', gate: gate.cell }))]
  for (let i = 0; i < 20; i++) {
    const task = app.pool.run({ op: 'echo', value: i })
    held.push(settle(task))
    if (app.pool.stats().rejected > 0) break
  }
  // A refused run() rejects in a microtask; the counter is already up to date here.
  return held
}

function poolRoutes (app: import('fastify').FastifyInstance): void {
  app.get('/echo', async () => await app.pool.run({ op: 'echo', value: 'hi' }))
  app.get('/slow', async () => await app.pool.run({ op: 'gate', gate: new Int32Array(new SharedArrayBuffer(4)), ms: 3000 }, { timeout: 100 }))
  app.get('/throw', async () => await app.pool.run({ op: 'throw' }))
  app.get('/exit', async () => await app.pool.run({ op: 'exit' }))
  app.get('/mine', async () => { throw Object.assign(new Error('my own failure'), { statusCode: 503 }) })
}

t.test('queue full: 503 with Retry-After; the queue stays bounded', async (t) => {
  const { app, url } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, maxQueue: 3 }, setup: poolRoutes })
  const gate = new Gate()
  const held = await saturate(app, gate)
  t.ok(app.pool.snapshot().queued <= 4, `queue bounded (${app.pool.snapshot().queued})`)
  const answer = await get(`${url}/echo`)
  t.equal(answer.status, 503)
  t.equal(answer.headers.get('retry-after'), '1')
  t.equal(answer.body.code, 'FST_BACKPRESSURE_QUEUE_FULL')
  const mine = await get(`${url}/mine`)
  t.equal(mine.status, 503, "the app's own error passes through")
  t.equal(mine.headers.get('retry-after'), null, 'no Retry-After on errors that are not the pool\'s')
  gate.open()
  await Promise.all(held)
  t.equal((await get(`${url}/echo`)).status, 200, 'served again once the queue drains')
})

t.test('queue full as 429 (rejectStatusCode); the retry hint is on the error, for the app\'s own error handler too', async (t) => {
  const handled: Array<[string, unknown]> = []
  const { app, url } = await startApp(t, {
    pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, maxQueue: 2, rejectStatusCode: 429, retryAfter: 7 },
    setup (app) {
      app.setErrorHandler(function appErrorHandler (error: Error & { statusCode?: number, code?: string, headers?: Record<string, string> }, _request, reply) {
        handled.push([error.code ?? '', error.headers])
        // What Fastify's default handler does with `error.headers`; an app's own handler chooses.
        void reply.headers(error.headers ?? {}).code(error.statusCode ?? 500).send({ mine: true, code: error.code })
      })
      poolRoutes(app)
    }
  })
  const gate = new Gate()
  const held = await saturate(app, gate)
  const answer = await get(`${url}/echo`)
  t.equal(answer.status, 429)
  t.equal(answer.headers.get('retry-after'), '7')
  t.same(answer.body, { mine: true, code: 'FST_BACKPRESSURE_QUEUE_FULL' }, "the app's error handler answers")
  t.same(handled, [['FST_BACKPRESSURE_QUEUE_FULL', { 'retry-after': '7' }]], 'and gets the hint on the error')
  gate.open()
  await Promise.all(held)
})

t.test('retryAfter 0: the retryable error carries no hint, and the answer no Retry-After', async (t) => {
  const { app, url } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, maxQueue: 0, retryAfter: 0 }, setup: poolRoutes })
  const gate = new Gate()
  const running = app.pool.run({ op: 'gate', gate: gate.cell })
  const refused = await app.pool.run({ op: 'echo', value: 1 }).catch((error: unknown) => error) as Error & { code?: string, headers?: unknown }
  t.equal(refused.code, 'FST_BACKPRESSURE_QUEUE_FULL', 'maxQueue 0: no task may wait')
  t.equal(refused.headers, undefined)
  const answer = await get(`${url}/echo`)
  t.equal(answer.status, 503)
  t.equal(answer.headers.get('retry-after'), null)
  gate.open()
  await running
})

t.test('deadlines: 504; a queued task never starts, a running one has its thread replaced', async (t) => {
  const { app, url } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 }, setup: poolRoutes })
  await app.pool.run({ op: 'echo', value: 'warm' })
  let dispatched = 0
  app.pool.on('dispatch', () => { dispatched++ })
  const answer = await get(`${url}/slow`)
  t.equal(answer.status, 504)
  t.equal(answer.body.code, 'FST_BACKPRESSURE_TASK_TIMEOUT')
  t.equal(app.pool.stats().timedOut, 1)
  t.equal(await app.pool.run({ op: 'echo', value: 'after' }), 'after', 'the replaced thread runs the next task')

  const gate = new Gate()
  dispatched = 0
  const running = app.pool.run({ op: 'gate', gate: gate.cell })
  const queued = settle(app.pool.run({ op: 'echo', value: 'never' }, { timeout: 30 }))
  t.match(await queued, { code: 'FST_BACKPRESSURE_TASK_TIMEOUT', statusCode: 504 })
  gate.open()
  await running
  t.equal(dispatched, 1, 'only the gate task was ever dispatched')
  t.match(app.pool.snapshot(), { queued: 0, running: 0 })
})

t.test('pool default timeout counts from submission', async (t) => {
  const { app } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, timeout: 150 }, listen: false })
  await app.pool.run({ op: 'echo', value: 'warm' }, { timeout: 0 }) // a cold thread start can take longer than 150 ms
  const gate = new Gate()
  const started = performance.now()
  const first = settle(app.pool.run({ op: 'gate', gate: gate.cell, ms: 5000 }))
  const second = settle(app.pool.run({ op: 'echo', value: 2 }))
  t.match(await second, { code: 'FST_BACKPRESSURE_TASK_TIMEOUT' }, 'queued past its deadline')
  t.match(await first, { code: 'FST_BACKPRESSURE_TASK_TIMEOUT' }, 'running past its deadline')
  t.ok(performance.now() - started < 4000, 'both within the deadline, not the task time')
  t.equal(await app.pool.run({ op: 'echo', value: 3 }, { timeout: 0 }), 3, 'timeout: 0 disables it per run')
  gate.open()
})

t.test('worker faults: throw → 500 with the message hidden; crash → 500, only that task', async (t) => {
  const { app, url } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 }, setup: poolRoutes })
  const thrown = await get(`${url}/throw`)
  t.equal(thrown.status, 500)
  t.equal(thrown.body.code, 'FST_BACKPRESSURE_TASK_FAILED')
  t.notMatch(JSON.stringify(thrown.body), /on purpose|stack|gate-worker/, 'the worker error is not revealed')
  t.equal(thrown.headers.get('retry-after'), null)

  await app.pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const crash = settle(app.pool.run({ op: 'exit' }))
  const after = [1, 2, 3].map((value) => app.pool.run({ op: 'echo', value }))
  t.match(await crash, { code: 'FST_BACKPRESSURE_WORKER_CRASHED', statusCode: 500 })
  t.same(await Promise.all(after), [1, 2, 3], 'the tasks queued behind it run on the replacement thread')
  const crashed = await get(`${url}/exit`)
  t.equal(crashed.status, 500)
  t.equal(crashed.body.code, 'FST_BACKPRESSURE_WORKER_CRASHED')
  t.equal((await get(`${url}/echo`)).status, 200)
  t.match(app.pool.snapshot(), { busy: false, queued: 0, running: 0 })
  t.match(app.pool.stats(), { crashed: 2, errored: 1, inFlight: 0 })
  gate.open()
})

t.test('request.runInPool: a client that disconnects aborts its queued task; a POST body does not', async (t) => {
  const aborted: string[] = []
  const { app, url } = await startApp(t, {
    pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 },
    setup (app) {
      app.get('/queued', async (request) => await request.runInPool({ op: 'echo', value: 'queued' }))
      app.post('/body', async (request) => await request.runInPool({ op: 'echo', value: request.body }))
      app.get('/cancelled', async (request) => {
        const controller = new AbortController()
        controller.abort()
        return await request.runInPool({ op: 'echo', value: 'never' }, { signal: controller.signal })
      })
      app.addHook('onError', async (_request, _reply, error: Error & { code?: string }) => { aborted.push(error.code ?? '') })
    }
  })
  await app.pool.run({ op: 'echo', value: 'warm' })
  let dispatched = 0
  app.pool.on('dispatch', () => { dispatched++ })
  const gate = new Gate()
  const running = app.pool.run({ op: 'gate', gate: gate.cell })

  const busy = once(app.pool, 'busy')
  const client = httpRequest(`${url}/queued`)
  client.on('error', () => {}) // we hang up ourselves
  client.end()
  await busy // the request's task is queued behind the gate
  const free = once(app.pool, 'free')
  client.destroy()
  await free // it left the queue
  t.equal(app.pool.stats().aborted, 1, 'aborted when the client left')
  t.equal(app.pool.snapshot().queued, 0)
  gate.open()
  await running
  t.equal(dispatched, 1, 'the aborted task never started')
  t.same(aborted, ['FST_BACKPRESSURE_TASK_ABORTED'])
  aborted.length = 0

  const posted = await get(`${url}/body`, { method: 'POST', body: JSON.stringify({ a: 1 }), headers: { 'content-type': 'application/json' } })
  t.equal(posted.status, 200, 'a request whose body was read is not taken for a disconnect')
  t.same(posted.body, { a: 1 })

  const cancelled = await get(`${url}/cancelled`)
  t.equal(cancelled.status, 503, "the caller's own signal still aborts")
  t.equal(cancelled.body.code, 'FST_BACKPRESSURE_TASK_ABORTED')
})

t.test('queue-wait admission (CoDel): a standing queue sheds tasks that waited over target', async (t) => {
  const { app, url } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, admission: { target: 5, interval: 100 } }, setup: poolRoutes })
  await app.pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const started = performance.now()
  const running = app.pool.run({ op: 'gate', gate: gate.cell, ms: 5000 })
  const queued = [1, 2, 3].map((value) => settle(app.pool.run({ op: 'echo', value })))
  // The queue has been non-empty since the gate task started: after `interval`, anything that
  // waited over `target` is shed, without waiting for the task in front to finish.
  const results = await Promise.all(queued)
  const waited = performance.now() - started
  for (const result of results) t.match(result, { code: 'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED', statusCode: 503 })
  t.ok(waited >= 95 && waited < 4000, `shed once the queue had stood for the interval (${Math.round(waited)} ms)`)
  t.equal(app.pool.stats().shed, 3)
  const answer = await get(`${url}/echo`)
  t.equal(answer.status, 503, 'over HTTP: 503')
  t.equal(answer.headers.get('retry-after'), '1')
  t.equal(answer.body.code, 'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED')
  gate.open()
  await running

  // A queue that empties: a burst behind a short task is not shed.
  const burst = [1, 2, 3, 4].map((value) => app.pool.run({ op: 'echo', value }))
  t.same(await Promise.all(burst), [1, 2, 3, 4], 'a burst that drains within the interval is served')
  t.match(app.pool.snapshot(), { queued: 0, running: 0 })
})

t.test('a worker file that throws on import: ready() rejects with WORKER_LOAD_FAILED naming pool.filename', async (t) => {
  const error = await startApp(t, { pool: { filename: BROKEN_WORKER, minThreads: 1, maxThreads: 1 } }).then(() => undefined, (error: Error & { code?: string, cause?: Error }) => error)
  t.equal(error?.code, 'FST_BACKPRESSURE_WORKER_LOAD_FAILED')
  t.match(error?.message, 'pool.filename')
  t.match(error?.message, BROKEN_WORKER, 'the message names the path')
  t.match(error?.message, 'this worker cannot start', 'and the cause')
  t.match(error?.cause?.message, 'this worker cannot start')
})

t.test('a worker file that loads but exports no function still passes the load check (its tasks fail, coded)', async (t) => {
  const { app } = await startApp(t, { pool: { filename: NO_EXPORT_WORKER, minThreads: 1, maxThreads: 1 }, listen: false })
  t.match(await settle(app.pool.run({ op: 'echo', value: 1 })), { code: 'FST_BACKPRESSURE_TASK_FAILED' })
})

t.test('a pool whose threads cannot start is down, rejects at once, and leaves no task hanging', async (t) => {
  // The first thread loads (ready() passes); once it dies, every replacement fails to start.
  const { app, url, logs } = await startApp(t, { pool: { ...fragileWorker(1), minThreads: 1, maxThreads: 1 }, setup: poolRoutes })
  // Not events.once(): it rejects on the 'error' events piscina emits for the failing threads.
  const down = new Promise((resolve) => { app.pool.once('down', (...args) => { resolve(args) }) })
  t.match(await settle(app.pool.run({ op: 'exit' })), { code: 'FST_BACKPRESSURE_WORKER_CRASHED' }, 'the one healthy thread dies')
  const first = [1, 2, 3].map((value) => settle(app.pool.run({ op: 'echo', value })))
  const [reason, snapshot] = await down as [string, PoolSnapshot]
  t.equal(reason, 'worker threads fail to start')
  t.equal(snapshot.threads, 0)
  t.equal(app.pool.down, true)
  for (const result of await Promise.all(first)) {
    t.match(result, { code: /^FST_BACKPRESSURE_(TASK_FAILED|POOL_DOWN)$/ }, 'every task settled')
  }
  t.match(await settle(app.pool.run({ op: 'echo', value: 4 })), { code: 'FST_BACKPRESSURE_POOL_DOWN', statusCode: 503 }, 'refused at once')
  const answer = await get(`${url}/echo`)
  t.equal(answer.status, 503)
  t.equal(answer.headers.get('retry-after'), '1')
  t.equal(answer.body.code, 'FST_BACKPRESSURE_POOL_DOWN')
  t.equal(logs.messages('worker pool down')[0]?.level, 50, 'logged as an error')
  t.equal(app.pool.stats().inFlight, 0)
})

t.test('maxQueue also bounds tasks with a signal or a deadline (piscina queues those apart)', async (t) => {
  const { app } = await startApp(t, { pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, maxQueue: 3 }, listen: false })
  await app.pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const controller = new AbortController()
  const running = app.pool.run({ op: 'gate', gate: gate.cell }, { signal: controller.signal })
  const queued = [1, 2, 3].map((value) => app.pool.run({ op: 'echo', value }, value === 2 ? { timeout: 5000 } : { signal: controller.signal }))
  t.equal(app.pool.snapshot().queued, 3)
  t.match(await settle(app.pool.run({ op: 'echo', value: 4 }, { signal: controller.signal })), { code: 'FST_BACKPRESSURE_QUEUE_FULL', statusCode: 503 })
  t.match(await settle(app.pool.run({ op: 'echo', value: 5 }, { timeout: 5000 })), { code: 'FST_BACKPRESSURE_QUEUE_FULL' })
  t.equal(app.pool.snapshot().queued, 3, 'the queue never grew past maxQueue')
  gate.open()
  t.equal(await running, 'ok', 'the running task finished')
  t.same(await Promise.all(queued), [1, 2, 3])
})

t.test('a listener that throws is logged and does not break run() or the other listeners', async (t) => {
  const { app, logs } = await startApp(t, {
    pool: {
      filename: GATE_WORKER,
      minThreads: 1,
      maxThreads: 1,
      onBusy: () => { throw new Error('listener bug') }
    },
    listen: false
  })
  await app.pool.run({ op: 'echo', value: 'warm' })
  let freeSeen = 0
  app.pool.on('free', () => { freeSeen++ })
  app.pool.on('down', () => { throw new Error('down listener bug') })
  const gate = new Gate()
  const tasks = [app.pool.run({ op: 'gate', gate: gate.cell }), app.pool.run({ op: 'echo', value: 1 })]
  t.equal(app.pool.busy, true)
  gate.open()
  await Promise.all(tasks)
  t.equal(freeSeen, 1)
  await app.close()
  const errors = logs.messages('a pool busy/free listener threw')
  t.equal(errors.length, 2, 'both faulty listeners logged')
  t.equal(errors[0]?.level, 50)
})

t.test('request.runInPool: a client already gone, and a live caller signal', async (t) => {
  const requestArrived = deferred<void>()
  const lateFailed = deferred<string>()
  const { app, url } = await startApp(t, {
    pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 },
    setup (app) {
      app.get('/late', async (request) => {
        requestArrived.resolve()
        // Start the task only once the client has hung up.
        if (!request.raw.socket.destroyed) await once(request.raw.socket, 'close')
        return await request.runInPool({ op: 'echo', value: 'never' })
      })
      app.get('/signal', async (request) => await request.runInPool({ op: 'echo', value: 'with signal' }, { signal: new AbortController().signal }))
      app.addHook('onError', async (_request, _reply, error: Error & { code?: string }) => { lateFailed.resolve(error.code ?? '') })
    }
  })
  const client = httpRequest(`${url}/late`)
  client.on('error', () => {}) // we hang up ourselves
  client.end()
  await requestArrived.promise
  client.destroy()
  t.equal(await lateFailed.promise, 'FST_BACKPRESSURE_TASK_ABORTED', 'the task of a client already gone is aborted at once')
  t.equal(app.pool.stats().aborted, 1)
  t.equal((await get(`${url}/signal`)).body.text, 'with signal', 'a live caller signal does not abort')
})

t.test('31 pipelined requests on one socket, each in request.runInPool: one close listener on the socket, no leak warning', async (t) => {
  const { connect } = await import('node:net')
  const gate = new Gate()
  const PIPELINED = 31
  let entered = 0
  let before = -1
  let during = -1
  const { app } = await startApp(t, {
    pool: { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 },
    setup (app) {
      app.get('/task', async (request) => {
        const socket = request.raw.socket
        if (before === -1) before = socket.listenerCount('close')
        const result = request.runInPool({ op: 'gate', gate: gate.cell })
        if (++entered === PIPELINED) {
          // Every request is in flight at once (Node emits pipelined requests as it parses them).
          during = socket.listenerCount('close')
          gate.open()
        }
        return await result
      })
    }
  })
  const address = app.server.address() as { port: number }
  const socket = connect({ host: '127.0.0.1', port: address.port })
  t.teardown(() => { socket.destroy() })
  await once(socket, 'connect')
  let received = ''
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if ((received.match(/HTTP\/1\.1 200/g) ?? []).length === PIPELINED) resolve()
    })
  })
  socket.write('GET /task HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(PIPELINED))
  await answered
  t.equal(entered, PIPELINED, 'all requests were in flight together')
  t.equal(during, before + 1, `one close listener for ${PIPELINED} requests (before ${before}, during ${during})`)
  t.equal(app.pool.stats().completed, PIPELINED)
})
