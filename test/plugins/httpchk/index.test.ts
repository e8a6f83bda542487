import { once } from 'node:events'
import Fastify from 'fastify'
import underPressure from '@fastify/under-pressure'
import t from 'tap'
import httpchkPlugin, { HTTPCHK_PLUGIN_NAME } from '../../../plugins/httpchk/index.js'
import metricsPlugin from '../../../plugins/metrics/index.js'
import poolPlugin from '../../../plugins/pool/index.js'
import { readyError, startApp, THREAD_DEFAULTS, TWO_THREADS, WORKER } from '../../helpers/app.js'
import { agentCheck, haproxyProbe, rawHttp } from '../../helpers/raw-client.js'
import { refusal, valueAt } from '../../helpers/options.js'

/** Blocks every thread of a 2-thread pool and waits until the pool reports busy. */
async function saturate (pool: import('../../../lib/pool/pool.js').BackpressurePool, ms: number, queued = 1): Promise<Promise<unknown>[]> {
  const busy = once(pool, 'busy')
  const tasks = [] as Promise<unknown>[]
  for (let i = 0; i < 2 + queued; i++) tasks.push(pool.run({ op: 'block', ms }))
  await busy
  return tasks
}

t.test('HAProxy default probe: OPTIONS / HTTP/1.0 without Host, with no route for / or OPTIONS', async (t) => {
  const { port } = await startApp(t, { pool: TWO_THREADS, httpchk: {} })
  const answer = await haproxyProbe(port)
  t.equal(answer.status, 200)
  t.equal(answer.body, 'free\n')
  t.equal(answer.headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(answer.headers['cache-control'], 'no-store')
  t.notOk('retry-after' in answer.headers)
  // HAProxy may half-close after writing the check; the answer must still arrive.
  const halfClosed = await rawHttp(port, 'OPTIONS / HTTP/1.0\r\n\r\n', { halfClose: true })
  t.equal(halfClosed.status, 200)
  // Any other request still gets the app's own 404.
  const other = await haproxyProbe(port, [], 'OPTIONS /other HTTP/1.0')
  t.equal(other.status, 404)
})

t.test('OPTIONS * (asterisk form, as Apache hcmethod=OPTIONS sends it) is answered as OPTIONS /', async (t) => {
  const seen: string[] = []
  const { app, port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: {},
    setup (app) {
      app.addHook('onRequest', async (request) => { seen.push(request.raw.url as string) })
    }
  })
  for (const request of ['OPTIONS * HTTP/1.0\r\n\r\n', 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n']) {
    const answer = await rawHttp(port, request)
    t.equal(answer.status, 200, JSON.stringify(request))
    t.equal(answer.body, 'free\n')
    t.equal(answer.headers['cache-control'], 'no-store')
  }
  const tasks = await saturate(app.pool, 300)
  const busy = await rawHttp(port, 'OPTIONS * HTTP/1.0\r\n\r\n')
  t.equal(busy.status, 503)
  t.equal(busy.headers['retry-after'], '1')
  t.equal(busy.body, 'busy\n')
  const head = await rawHttp(port, 'OPTIONS * HTTP/1.0\r\n\r\n', { halfClose: true })
  t.equal(head.status, 503, 'half-closed after writing: the answer still arrives')
  await Promise.all(tasks)
  t.same(seen, [], 'no hook of the app saw the asterisk-form probe')
  for (const line of ['OPTIONS /* HTTP/1.0', 'OPTIONS *? HTTP/1.0', 'GET * HTTP/1.0']) {
    t.equal((await rawHttp(port, `${line}\r\n\r\n`)).status, 404, `${line} is not the probe: the app answers`)
  }
  t.same(seen, ['/*', '*?', '*'], 'and the app saw each of them')
})

t.test('OPTIONS * is the app\'s when the probe is not OPTIONS /', async (t) => {
  for (const httpchk of [{ url: '/healthz' }, { method: 'GET', url: '/' }]) {
    const { port } = await startApp(t, { pool: TWO_THREADS, httpchk })
    t.equal((await rawHttp(port, 'OPTIONS * HTTP/1.0\r\n\r\n')).status, 404, JSON.stringify(httpchk))
  }
})

t.test('busy: 503 with Retry-After, and back to 200 once free', async (t) => {
  const { app, port } = await startApp(t, { pool: TWO_THREADS, httpchk: {} })
  const tasks = await saturate(app.pool, 300)
  const busy = await haproxyProbe(port)
  t.equal(busy.status, 503)
  t.equal(busy.headers['retry-after'], '1')
  t.equal(busy.body, 'busy\n')
  t.equal(app.backpressure.probeState(), 'busy')
  const free = once(app.pool, 'free')
  await Promise.all(tasks)
  await free
  t.equal((await haproxyProbe(port)).status, 200)
})

t.test('unavailableStatusCode 404 (disable-on-404), retryAfter 0, several methods, custom url', async (t) => {
  const { app, port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: { method: ['get', 'POST'], url: '/healthz', unavailableStatusCode: 404, retryAfter: 0 }
  })
  t.equal((await haproxyProbe(port, [], 'GET /healthz HTTP/1.0')).status, 200)
  t.equal((await haproxyProbe(port, ['Host: localhost', 'Connection: close'], 'POST /healthz HTTP/1.1')).status, 200)
  const head = await haproxyProbe(port, [], 'HEAD /healthz HTTP/1.0')
  t.equal(head.status, 200)
  t.equal(head.body, '', 'HEAD has no body')
  t.equal(head.headers['content-length'], '5')
  t.equal((await haproxyProbe(port)).status, 404, 'OPTIONS is no longer the probe: the app answers (no route)')
  const tasks = await saturate(app.pool, 300)
  const busy = await haproxyProbe(port, [], 'GET /healthz?x=1 HTTP/1.0')
  t.equal(busy.status, 404)
  t.notOk('retry-after' in busy.headers)
  await Promise.all(tasks)
})

t.test('exact match: traversal, encodings, prefixes and other methods are not the probe', async (t) => {
  const seen: string[] = []
  const { port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: { method: 'GET', url: '/healthz' },
    setup (app) {
      app.addHook('onRequest', async (request, reply) => {
        seen.push(request.raw.url as string)
        return reply.code(401).send({ error: 'auth required' })
      })
    }
  })
  const notProbes = [
    'GET //healthz', 'GET /./healthz', 'GET /x/../healthz', 'GET /healthz/', 'GET /healthzz', 'GET /HEALTHZ',
    'GET /health%7A', 'GET /%68ealthz', 'GET /healthz%2F', 'GET /healthz;x', 'GET /healthz#x', 'GET http://127.0.0.1/healthz',
    'PUT /healthz', 'OPTIONS /healthz', 'DELETE /healthz', 'GET /healthz/../admin', 'GET /prefix/healthz'
  ]
  for (const line of notProbes) {
    const answer = await haproxyProbe(port, [], `${line} HTTP/1.0`)
    t.not(answer.status, 200, `${line} is not the probe`)
  }
  t.equal(seen.length, notProbes.length, 'the auth hook saw every non-probe request')
  for (const line of ['GET /healthz', 'GET /healthz?', 'GET /healthz?a=1&b=/../x', 'HEAD /healthz']) {
    t.equal((await haproxyProbe(port, [], `${line} HTTP/1.0`)).status, 200, `${line} is the probe`)
  }
  t.equal(seen.length, notProbes.length, 'the auth hook registered after the plugin never saw the probe')
})

t.test('CORS preflight on the probe path goes to the app untouched', async (t) => {
  const { port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: {},
    setup (app) {
      app.options('/', async (request) => ({ preflight: request.headers['access-control-request-method'] }))
    }
  })
  const preflight = await haproxyProbe(port, ['Origin: http://example.test', 'Access-Control-Request-Method: PUT'])
  t.equal(preflight.status, 200)
  t.same(JSON.parse(preflight.body), { preflight: 'PUT' })
  t.equal((await haproxyProbe(port)).body, 'free\n', 'without the header it is the probe')
})

t.test("the app's onSend hooks never touch the probe", async (t) => {
  let onSend = 0
  const { port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: {},
    setup (app) {
      app.addHook('onSend', async () => { onSend++ })
      app.get('/app', async () => 'app')
    }
  })
  await haproxyProbe(port)
  t.equal(onSend, 0)
  t.equal((await haproxyProbe(port, [], 'GET /app HTTP/1.0')).body, 'app')
  t.equal(onSend, 1, 'ordinary requests still go through onSend')
})

t.test('verbose reveals the snapshot; the default reveals one word', async (t) => {
  const { port } = await startApp(t, { pool: TWO_THREADS, httpchk: { verbose: true } })
  const answer = await haproxyProbe(port)
  t.equal(answer.status, 200)
  t.equal(answer.headers['content-type'], 'application/json; charset=utf-8')
  const body = JSON.parse(answer.body) as { state: string, draining: boolean, executors: { pool: { busy: boolean, threads: number } } }
  t.equal(body.state, 'free')
  t.equal(body.draining, false)
  t.equal(body.executors.pool.busy, false)
  t.equal(body.executors.pool.threads, 2)
  t.equal(Number(answer.headers['content-length']), Buffer.byteLength(answer.body))
})

t.test('verbose: a failing check\'s error text only where allow limits who reads it; its name everywhere', async (t) => {
  const checks = { db: async () => { throw new Error('connect ECONNREFUSED 10.0.0.5:5432') } }
  for (const allow of [undefined, ['127.0.0.1']]) {
    const { port } = await startApp(t, { pool: TWO_THREADS, httpchk: { verbose: true, checks, ...(allow === undefined ? {} : { allow }) } })
    const answer = await haproxyProbe(port)
    t.equal(answer.status, 503)
    const body = JSON.parse(answer.body) as { state: string, reason: string, checkErrors?: Record<string, string> }
    t.equal(body.reason, 'not-ready: db', 'the reason names the check')
    if (allow === undefined) t.notOk(answer.body.includes('ECONNREFUSED'), 'no allow: no error text, whoever asks')
    else t.same(body.checkErrors, { db: 'connect ECONNREFUSED 10.0.0.5:5432' }, 'allow: the error for the allowed source')
  }
})

t.test('a pool that is down makes the probe fail', async (t) => {
  const { app, port } = await startApp(t, { pool: TWO_THREADS, httpchk: {} })
  // The pool is down while it closes (outside an app close, which would report draining first).
  const closing = app.pool.close()
  const answer = await haproxyProbe(port)
  t.equal(answer.status, 503)
  t.equal(answer.body, 'down\n')
  await closing
})

t.test('underPressure: @fastify/under-pressure registered after the suite makes the probe busy', async (t) => {
  let healthy = true
  const { app, port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: { underPressure: true, unavailableStatusCode: 404 },
    async setup (app) {
      await app.register(underPressure, { healthCheck: async () => healthy, healthCheckInterval: 20 })
    }
  })
  t.equal((await haproxyProbe(port)).status, 200)
  healthy = false
  // under-pressure polls its healthCheck on a timer; wait for it to notice, bounded.
  const deadline = Date.now() + 5000
  while ((app as unknown as { isUnderPressure: () => boolean }).isUnderPressure() === false && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const answer = await haproxyProbe(port)
  t.equal(answer.status, 404, "the probe's own busy code, not under-pressure's 503")
  t.equal(answer.body, 'busy\n')
})

t.test('underPressure without @fastify/under-pressure fails at ready()', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(poolPlugin, { filename: WORKER, maxThreads: 1, execArgv: [] })
  await app.register(httpchkPlugin, { underPressure: true })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /httpchk\.underPressure/ })
})

t.test('httpchk without any executor: the probe reports readiness alone', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(httpchkPlugin, { agent: { port: 0 } })
  t.equal(app.backpressure.probeState(), 'starting', 'starting until the app is ready')
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as import('node:net').AddressInfo
  t.equal((await haproxyProbe(port)).body, 'free\n')
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'up ready 100%\n', 'nothing to bound: no maxconn')
  t.equal(HTTPCHK_PLUGIN_NAME, 'fastify-backpressure-httpchk')
})

t.test('the probe answers in a few ms while every thread is blocked and hundreds of tasks queue', async (t) => {
  let bodyParsed = 0
  const { app, port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: { method: ['OPTIONS', 'POST'] },
    setup (app) {
      app.addContentTypeParser('text/plain', (_request, _payload, done) => { bodyParsed++; done(null, '') })
    }
  })
  const tasks = await saturate(app.pool, 1500, 1)
  for (let i = 0; i < 299; i++) tasks.push(app.pool.run({ op: 'echo', value: i }))
  t.equal(app.pool.snapshot().queued, 300)
  const latencies: number[] = []
  for (let i = 0; i < 30; i++) {
    const start = process.hrtime.bigint()
    const answer = await haproxyProbe(port)
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
    t.equal(answer.status, 503)
  }
  const post = await rawHttp(port, 'POST / HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello')
  t.equal(post.status, 503)
  t.equal(bodyParsed, 0, 'the body parser never ran for the probe')
  t.ok(app.pool.snapshot().queued >= 250, 'the tasks are still queued: the probes did not wait for them')
  latencies.sort((a, b) => a - b)
  const max = latencies[latencies.length - 1] as number
  t.comment(`probe latency with the pool saturated: median ${(latencies[15] as number).toFixed(2)} ms, max ${max.toFixed(2)} ms`)
  // The figure is printed, not bounded: a loaded machine can slow any answer. Its bound is in
  // `npm run bench` (B3: the probe's latency at queue depths 0 to 1000, against depth 0).
  await Promise.all(tasks)
})

t.test('every option is validated by the normaliser, naming the option and the value received', async (t) => {
  const { normalizeHttpchkOptions } = await import('../../../plugins/httpchk/options.js')
  const invalid: Array<[options: unknown, option: string]> = [
    ['x', 'httpchk'],
    [{ nope: 1 }, 'httpchk.nope'],
    [{ method: '' }, 'httpchk.method'],
    [{ method: [] }, 'httpchk.method'],
    [{ method: ['GET', 'B A D'] }, 'httpchk.method'],
    [{ method: 7 }, 'httpchk.method'],
    [{ url: 'healthz' }, 'httpchk.url'],
    [{ url: '' }, 'httpchk.url'],
    [{ url: '//x' }, 'httpchk.url'],
    [{ url: '/a/../b' }, 'httpchk.url'],
    [{ url: '/./b' }, 'httpchk.url'],
    [{ url: '/x?y=1' }, 'httpchk.url'],
    [{ url: '/x/' }, 'httpchk.url'],
    [{ unavailableStatusCode: 200 }, 'httpchk.unavailableStatusCode'],
    [{ unavailableStatusCode: 600 }, 'httpchk.unavailableStatusCode'],
    [{ unavailableStatusCode: '503' }, 'httpchk.unavailableStatusCode'],
    [{ retryAfter: -1 }, 'httpchk.retryAfter'],
    [{ retryAfter: 1.5 }, 'httpchk.retryAfter'],
    [{ verbose: 'yes' }, 'httpchk.verbose'],
    [{ underPressure: 1 }, 'httpchk.underPressure'],
    [{ maxServerStateNodes: 4 }, 'httpchk.maxServerStateNodes'],
    [{ haproxy: { inter: 1000 } }, 'httpchk.haproxy'],
    [{ busyStatusCode: 404 }, 'httpchk.busyStatusCode'],
    [{ checkIntervalMs: 100 }, 'httpchk.checkIntervalMs'],
    [{ drain: [] }, 'httpchk.drain'],
    [{ drain: { graceMs: 1 } }, 'httpchk.drain.graceMs'],
    [{ drain: { deadlineMs: 1 } }, 'httpchk.drain.deadlineMs'],
    [{ drain: { grace: -1 } }, 'httpchk.drain.grace'],
    [{ drain: { grace: 2 ** 31 } }, 'httpchk.drain.grace'],
    [{ drain: { signals: 'SIGTERM' } }, 'httpchk.drain.signals'],
    [{ drain: { signals: [] } }, 'httpchk.drain.signals'],
    [{ drain: { signals: ['TERM'] } }, 'httpchk.drain.signals'],
    [{ agent: true }, 'httpchk.agent'],
    [{ agent: {} }, 'httpchk.agent.port'],
    [{ agent: { port: 70000 } }, 'httpchk.agent.port'],
    [{ agent: { port: 0, hostname: 'x' } }, 'httpchk.agent.hostname'],
    [{ agent: { port: 0, host: '' } }, 'httpchk.agent.host'],
    [{ agent: { port: 0, maxQueue: -1 } }, 'httpchk.agent.maxQueue'],
    [{ agent: { port: 0, queue: 4 } }, 'httpchk.agent.queue'],
    [{ agent: { port: 0, minWeight: 101 } }, 'httpchk.agent.minWeight'],
    [{ agent: { port: 0, timeout: 0 } }, 'httpchk.agent.timeout'],
    [{ agent: { port: 0, timeout: 2 ** 31 } }, 'httpchk.agent.timeout'],
    [{ agent: { port: 0, timeoutMs: 1 } }, 'httpchk.agent.timeoutMs'],
    [{ agent: { port: 0, maxConnections: 8 } }, 'httpchk.agent.maxConnections'],
    [{ drain: { signals: ['SIGFOO'] } }, 'httpchk.drain.signals'],
    [{ drain: { signals: ['SIGTERM', 'SIGKILL'] } }, 'httpchk.drain.signals'],
    [{ drain: { signals: ['SIGSTOP'] } }, 'httpchk.drain.signals'],
    [{ drain: { timeout: 10, grace: 100 } }, 'httpchk.drain.timeout'],
    [{ drain: { timeout: 2 ** 31 } }, 'httpchk.drain.timeout'],
    [{ drain: { onClose: 'yes' } }, 'httpchk.drain.onClose'],
    [{ allow: '127.0.0.1' }, 'httpchk.allow'],
    [{ allow: [] }, 'httpchk.allow'],
    [{ allow: ['localhost'] }, 'httpchk.allow'],
    [{ allow: ['10.0.0.0/33'] }, 'httpchk.allow'],
    [{ allow: ['::1/129'] }, 'httpchk.allow'],
    [{ allow: ['10.0.0.0/x'] }, 'httpchk.allow'],
    [{ allow: [7] }, 'httpchk.allow'],
    [{ checks: [] }, 'httpchk.checks'],
    [{ checks: { db: 'select 1' } }, 'httpchk.checks.db'],
    [{ checkInterval: 0 }, 'httpchk.checkInterval'],
    [{ checkTimeout: 6000 }, 'httpchk.checkTimeout'],
    [{ liveness: true }, 'httpchk.liveness'],
    [{ liveness: { url: '/livez' } }, 'httpchk.liveness'],
    [{ liveness: 'livez' }, 'httpchk.liveness'],
    [{ method: 'GET', url: '/health', liveness: '/health' }, 'httpchk.liveness'],
    [{ prefix: '/x' }, 'httpchk.prefix'],
    [{ logLevel: 'warn' }, 'httpchk.logLevel']
  ]
  for (const [options, option] of invalid) {
    t.throws(() => normalizeHttpchkOptions(options), refusal(option, valueAt(options, option)), JSON.stringify(options))
  }
  t.throws(() => normalizeHttpchkOptions({ agent: { port: 0, queue: 4 } }), { message: /did you mean "httpchk\.agent\.maxQueue"\?/ }, 'an old name points to the new one')
  t.throws(() => normalizeHttpchkOptions({ busyStatusCode: 404 }), { message: /did you mean "httpchk\.unavailableStatusCode"\?/ }, 'a renamed option points to its new name')
  t.throws(() => normalizeHttpchkOptions({ checkIntervalMs: 100 }), {
    message: 'Invalid option "httpchk.checkIntervalMs": expected an option "httpchk" knows (did you mean "httpchk.checkInterval"?), received 100'
  }, 'an old unit-suffixed name points to the new one')
  // Fastify hands a plugin its register options (prefix, logLevel, logSerializers) but ignores them
  // for a plugin wrapped in fastify-plugin: refused, saying so, rather than silently dropped.
  for (const [key, value] of [['prefix', '/x'], ['logLevel', 'warn'], ['logSerializers', {}]] as const) {
    t.throws(() => normalizeHttpchkOptions({ [key]: value }), { message: new RegExp(`"httpchk\\.${key}".*Fastify ignores "${key}" for a plugin wrapped in fastify-plugin`) }, key)
  }
})

t.test('a bad httpchk option surfaces at ready(), and nothing answers the probe', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // A register option Fastify passes to the plugin: the normaliser sees what the user wrote.
  app.register(httpchkPlugin, { logLevel: 'warn' } as never)
  await t.rejects(async () => { await app.ready() }, {
    code: 'FST_BACKPRESSURE_INVALID_OPTION',
    message: /^Invalid option "httpchk\.logLevel": .*Fastify ignores "logLevel" for a plugin wrapped in fastify-plugin.*, received 'warn'$/
  })
  t.notOk(app.hasDecorator('backpressure'))
})

t.test('valid option forms are accepted', async (t) => {
  const { normalizeHttpchkOptions } = await import('../../../plugins/httpchk/options.js')
  const defaults = normalizeHttpchkOptions(undefined)
  t.same([...defaults.methods], ['OPTIONS'])
  t.equal(defaults.url, '/')
  t.equal(defaults.unavailableStatusCode, 503)
  t.equal(defaults.retryAfter, 1)
  t.equal(defaults.graceMs, 8000, "HAProxy's default inter 2000 × (fall 3 + 1)")
  t.same(defaults.signals, [])
  t.equal(defaults.agent, undefined)
  t.equal(normalizeHttpchkOptions({ drain: { grace: 50 } }).graceMs, 50)
  t.same([...normalizeHttpchkOptions({ method: 'get' }).methods], ['GET', 'HEAD'])
  t.same(normalizeHttpchkOptions({ drain: { signals: true } }).signals, ['SIGTERM', 'SIGINT'])
  t.same(normalizeHttpchkOptions({ drain: { signals: false } }).signals, [])
  t.same(normalizeHttpchkOptions({ drain: { signals: ['SIGUSR2', 'SIGUSR2'] } }).signals, ['SIGUSR2'])
  t.equal(normalizeHttpchkOptions({ agent: false }).agent, undefined)
  t.same(normalizeHttpchkOptions({ agent: { port: 0 } }).agent, { port: 0, host: '127.0.0.1', maxQueue: undefined, minWeight: 1, timeoutMs: 2000 })
  t.same(normalizeHttpchkOptions({ agent: { port: 3001, maxQueue: 8, timeout: 500 } }).agent, { port: 3001, host: '127.0.0.1', maxQueue: 8, minWeight: 1, timeoutMs: 500 })
  t.equal(normalizeHttpchkOptions({ url: '/health/ready' }).url, '/health/ready')
  t.equal(defaults.deadlineMs, 18_000, 'grace + 10 s')
  t.equal(normalizeHttpchkOptions({ drain: { grace: 0 } }).deadlineMs, 10_000)
  t.equal(defaults.drainOnClose, false)
  t.equal(defaults.allow, undefined, 'any source')
  t.equal(defaults.livenessUrl, undefined)
  t.same(defaults.checks, {})
  t.equal(defaults.checkIntervalMs, 5000)
  t.equal(defaults.checkTimeoutMs, 2000)
  t.equal(normalizeHttpchkOptions({ checkInterval: 500 }).checkTimeoutMs, 500, 'the timeout never exceeds the interval')
  t.equal(normalizeHttpchkOptions({ liveness: '/livez' }).livenessUrl, '/livez')
  t.equal(normalizeHttpchkOptions({ liveness: false }).livenessUrl, undefined)
  t.equal(normalizeHttpchkOptions({ liveness: '/' }).livenessUrl, '/', 'OPTIONS / and GET / do not collide')
  t.same(normalizeHttpchkOptions({ drain: { signals: ['SIGHUP', 'SIGUSR1'] } }).signals, ['SIGHUP', 'SIGUSR1'])
  const allow = normalizeHttpchkOptions({ allow: ['127.0.0.2', '10.0.0.0/8', '::1', 'fd00::/8'] }).allow
  t.ok(allow?.check('127.0.0.2', 'ipv4'))
  t.ok(allow?.check('10.1.2.3', 'ipv4'))
  t.notOk(allow?.check('127.0.0.1', 'ipv4'))
  t.ok(allow?.check('fd12::1', 'ipv6'))
})

t.test('a probe or liveness path that shadows a route fails at ready(), naming the option', async (t) => {
  const cases: Array<[options: Record<string, unknown>, route: string, option: string]> = [
    [{ method: 'GET', url: '/metrics' }, '/metrics', 'httpchk.url'],
    [{ liveness: '/livez' }, '/livez', 'httpchk.liveness']
  ]
  for (const [options, route, option] of cases) {
    const app = Fastify()
    app.get(route, async () => 'the app')
    app.register(httpchkPlugin, options)
    await t.rejects(async () => { await app.ready() }, { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: new RegExp(`"${option.replaceAll('.', '\\.')}".*${route}`) }, JSON.stringify(options))
    await app.close()
  }
  // An OPTIONS route on the probe path stays: CORS preflights reach it.
  const app = Fastify()
  t.teardown(() => app.close())
  app.options('/', async () => 'preflight')
  await app.register(httpchkPlugin)
  await app.ready()
  t.equal(app.backpressure.probeState(), 'free', 'OPTIONS / route accepted with the default OPTIONS / probe')
})

t.test('a probe path that is the metrics route\'s fails at ready(), naming both options', async (t) => {
  for (const order of ['httpchk first', 'metrics first']) {
    const app = Fastify()
    t.teardown(() => app.close())
    const probe = { method: 'GET', url: '/metrics' }
    await app.register(poolPlugin, { filename: WORKER, ...THREAD_DEFAULTS, maxThreads: 1 })
    if (order === 'httpchk first') app.register(httpchkPlugin, probe)
    app.register(metricsPlugin, { exposeRoute: '/metrics' })
    if (order === 'metrics first') app.register(httpchkPlugin, probe)
    const error = await readyError(app)
    t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION', order)
    t.match(error?.message, /"httpchk\.url".*"metrics\.exposeRoute"/, `${order}: ${error?.message}`)
  }
})

t.test('httpchk registered twice on one server fails at ready()', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(httpchkPlugin)
  app.register(async (child) => { await child.register(httpchkPlugin) })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_BACKPRESSURE_ALREADY_REGISTERED' })
})

t.test('agent.host that does not resolve fails ready(), naming the option and the value', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(httpchkPlugin, { agent: { port: 0, host: 'no-such-host.invalid' } })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_BACKPRESSURE_AGENT_LISTEN_FAILED', message: /httpchk\.agent\.host.*no-such-host\.invalid/ })
})
