// The probe is answered at the server's front door: whatever the registration order, the context,
// the hooks and plugins ahead of it, and the protocol (HTTP/1.x, HTTPS, HTTP/2), on every server
// the app listens on, before any other `request` listener, and without a log line or a span.
import dns from 'node:dns'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type RequestListener } from 'node:http'
import { readFileSync } from 'node:fs'
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import t, { type Test } from 'tap'
import backpressure from '../../../index.js'
import type { BackpressurePool } from '../../../lib/pool/pool.js'
import { readyError, startApp, THREAD_DEFAULTS, WORKER, withPlugin } from '../../helpers/app.js'
import { haproxyProbe, rawHttp } from '../../helpers/raw-client.js'

const TLS = {
  key: readFileSync(fileURLToPath(new URL('../../fixtures/tls/key.pem', import.meta.url))),
  cert: readFileSync(fileURLToPath(new URL('../../fixtures/tls/cert.pem', import.meta.url)))
}
// The umbrella plugin registers the pool: the tests start their apps with `pool: false`.
const SUITE = { pool: { filename: WORKER, ...THREAD_DEFAULTS, minThreads: 2, maxThreads: 2 }, httpchk: { drain: { grace: 0 } }, metrics: false as const }

/** The probe answers 200 when free, 503 while the pool is saturated, 200 again after. */
async function assertFreeBusyFree (t: Test, port: number, pool: BackpressurePool, label: string): Promise<void> {
  t.equal((await haproxyProbe(port)).status, 200, `${label}: free → 200`)
  const busy = once(pool, 'busy')
  const tasks = [1, 2, 3].map(() => pool.run({ op: 'block', ms: 300 }))
  await busy
  const answer = await haproxyProbe(port)
  t.equal(answer.status, 503, `${label}: busy → 503`)
  t.equal(answer.body, 'busy\n')
  const free = once(pool, 'free')
  await Promise.all(tasks)
  await free
  t.equal((await haproxyProbe(port)).status, 200, `${label}: free again → 200`)
}

t.test('(a) registered at the root', async (t) => {
  const { app, port } = await startApp(t, withPlugin(backpressure, SUITE))
  await assertFreeBusyFree(t, port, app.pool, 'root')
})

t.test('(b) registered inside a prefixed encapsulated context', async (t) => {
  let child: FastifyInstance | undefined
  const { app, port } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(async (api) => {
        await api.register(backpressure, SUITE)
        api.get('/work', async () => 'api work')
        child = api
      }, { prefix: '/api' })
    }
  })
  t.notOk(app.hasDecorator('pool'), 'the pool is not visible at the root')
  await assertFreeBusyFree(t, port, (child as FastifyInstance).pool, 'prefixed context')
  t.equal((await rawHttp(port, 'GET /api/work HTTP/1.0\r\n\r\n')).body, 'api work', 'the context still serves its routes')
})

t.test('(c) in a fastify-cli + @fastify/autoload app (plugins/ and routes/ encapsulated)', async (t) => {
  const { build } = await import('fastify-cli/helper.js') as { build: (args: string[], options: Record<string, unknown>) => Promise<FastifyInstance> }
  let context: FastifyInstance | undefined
  const app = await build([fileURLToPath(new URL('../../fixtures/autoload-app/app.mjs', import.meta.url)), '--log-level', 'silent'], {
    backpressure,
    backpressureOptions: SUITE,
    expose (instance: FastifyInstance) { context = instance }
  })
  // Not startApp: fastify-cli builds this app itself; the test only listens and closes it.
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  await assertFreeBusyFree(t, port, (context as FastifyInstance).pool, 'autoload')
  t.same(JSON.parse((await rawHttp(port, 'GET / HTTP/1.0\r\n\r\n')).body), { root: true }, 'routes/ still serve GET /')
})

t.test('(d) after @fastify/cors with its defaults (strictPreflight refuses OPTIONS without Origin)', async (t) => {
  const { app, port } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(cors)
      await app.register(backpressure, SUITE)
      app.get('/data', async () => 'data')
    }
  })
  await assertFreeBusyFree(t, port, app.pool, 'after cors')
  const preflight = await haproxyProbe(port, ['Origin: http://a.test', 'Access-Control-Request-Method: GET'])
  t.equal(preflight.status, 204, 'a real CORS preflight still reaches @fastify/cors')
  t.equal(preflight.headers['access-control-allow-origin'], '*')
})

t.test('(e) after a global auth hook, which still guards every other URL', async (t) => {
  const { app, port } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      app.addHook('onRequest', async (request, reply) => {
        if (request.headers.authorization !== 'Bearer ok') return reply.code(401).send({ error: 'auth required' })
      })
      await app.register(backpressure, SUITE)
      app.get('/data', async () => 'data')
    }
  })
  await assertFreeBusyFree(t, port, app.pool, 'after auth hook')
  t.equal((await rawHttp(port, 'GET /data HTTP/1.0\r\n\r\n')).status, 401, 'the hook guards /data')
  t.equal((await rawHttp(port, 'OPTIONS /data HTTP/1.0\r\n\r\n')).status, 401, 'and OPTIONS on other paths')
  t.equal((await rawHttp(port, 'GET /data HTTP/1.0\r\nAuthorization: Bearer ok\r\n\r\n')).body, 'data')
})

t.test('a probe writes no log line at any level; an ordinary request does', async (t) => {
  const { port, logs } = await startApp(t, {
    ...withPlugin(backpressure, { ...SUITE, httpchk: { ...SUITE.httpchk, liveness: '/livez' } }, (app) => {
      app.get('/data', async () => 'data')
    }),
    logLevel: 'trace'
  })
  const before = logs.lines.length
  for (let i = 0; i < 5; i++) {
    t.equal((await haproxyProbe(port, ['X-Haproxy-Server-State: UP 2/3; name=be/app1; node=lb1'])).status, 200)
    t.equal((await rawHttp(port, 'GET /livez HTTP/1.0\r\n\r\n')).status, 200)
  }
  t.same(logs.lines.slice(before), [], 'ten checks, no line')
  await rawHttp(port, 'GET /data HTTP/1.0\r\n\r\n')
  t.ok(logs.lines.length > before, 'an ordinary request is logged (the capture works)')
})

t.test('a probe makes no OpenTelemetry span (@fastify/otel); an ordinary request does', async (t) => {
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  const { FastifyOtelInstrumentation } = await import('@fastify/otel')
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const instrumentation = new FastifyOtelInstrumentation()
  instrumentation.setTracerProvider(provider)
  t.teardown(() => provider.shutdown())
  const { port } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(instrumentation.plugin())
      await app.register(backpressure, SUITE)
      app.get('/data', async () => 'data')
    }
  })
  for (let i = 0; i < 3; i++) t.equal((await haproxyProbe(port)).status, 200)
  t.same(exporter.getFinishedSpans().map((span) => span.name), [], 'three probes, no span')
  await rawHttp(port, 'GET /data HTTP/1.0\r\n\r\n')
  t.ok(exporter.getFinishedSpans().length > 0, 'an ordinary request has spans (the instrumentation works)')
})

t.test('app.inject() still gets the probe (the onRequest hook, same matcher and answer)', async (t) => {
  const { app } = await startApp(t, {
    ...withPlugin(backpressure, { ...SUITE, httpchk: { ...SUITE.httpchk, liveness: '/livez', allow: ['127.0.0.1'] } }),
    listen: false
  })
  const probe = await app.inject({ method: 'OPTIONS', url: '/' })
  t.equal(probe.statusCode, 200)
  t.equal(probe.body, 'free\n')
  t.equal((await app.inject({ method: 'HEAD', url: '/livez' })).statusCode, 200)
  t.equal((await app.inject({ method: 'OPTIONS', url: '/', remoteAddress: '127.0.0.9' })).statusCode, 404, 'a source outside allow gets the app')
  t.equal((await app.inject({ method: 'GET', url: '/nothing' })).statusCode, 404)
})

t.test('app.inject() and OPTIONS *: light-my-request sends it as /*, which the hook reads as the asterisk form', async (t) => {
  const { app, port } = await startApp(t, withPlugin(backpressure, SUITE))
  const star = await app.inject({ method: 'OPTIONS', url: '*' })
  t.equal(star.statusCode, 200)
  t.equal(star.body, 'free\n')
  t.equal((await app.inject({ method: 'OPTIONS', url: '/*' })).statusCode, 200, 'the same request, as light-my-request builds it')
  t.equal((await app.inject({ method: 'GET', url: '*' })).statusCode, 404, 'only OPTIONS')
  t.equal((await app.inject({ method: 'OPTIONS', url: '/*?x' })).statusCode, 404, 'only the bare target')
  t.equal((await rawHttp(port, 'OPTIONS /* HTTP/1.0\r\n\r\n')).status, 404, 'a real OPTIONS /* passes both doors to the app')
  t.equal((await rawHttp(port, 'OPTIONS * HTTP/1.0\r\n\r\n')).status, 200, 'a real OPTIONS * is the probe')
})

t.test('allow: only the listed sources get the answer and record X-Haproxy-Server-State', async (t) => {
  const { app, port } = await startApp(t, withPlugin(backpressure, { ...SUITE, httpchk: { ...SUITE.httpchk, allow: ['127.0.0.2/32', '::ffff:127.0.0.3'] } }, (app) => {
    app.options('/', async () => 'the app')
  }))
  const header = 'X-Haproxy-Server-State: UP 2/3; name=be/app1; node=lb1'
  const from = (localAddress: string): Promise<{ status: number, body: string }> =>
    rawHttpFrom(port, localAddress, `OPTIONS / HTTP/1.0\r\n${header}\r\n\r\n`)
  t.equal((await from('127.0.0.1')).body, 'the app', '127.0.0.1 is not allowed: an ordinary request')
  t.same(app.backpressure.serverStates(), [], 'its header was not recorded')
  t.equal((await from('127.0.0.2')).body, 'free\n', '127.0.0.2 is allowed')
  t.equal((await from('127.0.0.3')).body, 'free\n', 'an IPv4-mapped entry matches the IPv4 peer')
  t.same(app.backpressure.serverStates().map((state) => state.node), ['lb1'])
})

t.test('HTTPS: the front door answers on the TLS server', async (t) => {
  const { port } = await startApp(t, { ...withPlugin(backpressure, SUITE), fastify: { https: TLS } })
  const answer = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    httpsRequest({ host: '127.0.0.1', port, method: 'OPTIONS', path: '/', rejectUnauthorized: false }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => { resolve({ status: response.statusCode as number, body }) })
    }).on('error', reject).end()
  })
  t.same(answer, { status: 200, body: 'free\n' })
})

t.test('HTTP/2: probe answered without connection headers; drain completes with an idle session open', async (t) => {
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const { app, port } = await startApp(t, {
    ...withPlugin(backpressure, { ...SUITE, httpchk: { drain: { grace: 200, timeout: 60_000 } } }, (app) => {
      app.get('/data', async () => 'data')
    }),
    fastify: { http2: true }
  })
  const session = http2Connect(`http://127.0.0.1:${port}`)
  t.teardown(() => { session.destroy() })
  t.same(await h2Request(session, 'OPTIONS', '/'), { status: 200, body: 'free\n' })
  t.same(await h2Request(session, 'GET', '/data'), { status: 200, body: 'data' })
  // A second client holds an idle session: it has sent nothing since its settings.
  const idle = http2Connect(`http://127.0.0.1:${port}`)
  await once(idle, 'connect')
  const idleClosed = once(idle, 'close')
  const started = Date.now()
  const drained = app.backpressure.drain()
  t.same(await h2Request(session, 'OPTIONS', '/').catch(() => ({ status: 0, body: '' })), { status: 0, body: '' }, 'the first session got GOAWAY when draining started')
  const again = http2Connect(`http://127.0.0.1:${port}`)
  t.teardown(() => { again.destroy() })
  t.same(await h2Request(again, 'GET', '/data'), { status: 200, body: 'data' }, 'a new session is served during the grace')
  t.same(await h2Request(again, 'OPTIONS', '/'), { status: 503, body: 'draining\n' })
  await drained
  await idleClosed
  t.ok(Date.now() - started < 30_000, `drained and closed in ${Date.now() - started} ms with an idle session open (deadline 60 s)`)
  t.same(warnings.filter((message) => /connection/i.test(message)), [], 'no HTTP/2 connection-header warning')
})

function h2Request (session: ClientHttp2Session, method: string, path: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': method, ':path': path })
    let status = 0
    let body = ''
    stream.on('response', (headers) => { status = Number(headers[':status']) })
    stream.setEncoding('utf8').on('data', (chunk: string) => { body += chunk })
    stream.on('end', () => { resolve({ status, body }) })
    stream.on('error', reject)
    stream.end()
  })
}

async function rawHttpFrom (port: number, localAddress: string, request: string): Promise<{ status: number, body: string }> {
  const { connect } = await import('node:net')
  const socket = connect({ host: '127.0.0.1', port, localAddress })
  await once(socket, 'connect')
  const { rawHttpOn } = await import('../../helpers/raw-client.js')
  const answer = await rawHttpOn(socket, request)
  return { status: answer.status, body: answer.body }
}

/**
 * Makes `localhost` resolve to 127.0.0.1 and ::1 in this process until the test ends (Debian's
 * default hosts file; this machine's says 127.0.0.1 only), through `dns.lookup`, which both Node's
 * `listen()` and Fastify's extra bindings ask. Every other name resolves as before.
 */
function localhostResolvesToBoth (t: Test): void {
  const original = dns.lookup
  const both = [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]
  function lookup (hostname: string, options: unknown, callback?: unknown): void {
    if (hostname !== 'localhost') {
      Reflect.apply(original, dns, [hostname, options, callback].filter((argument) => argument !== undefined))
      return
    }
    const done = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void
    const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true
    process.nextTick(() => { if (all) done(null, both); else done(null, '127.0.0.1', 4) })
  }
  dns.lookup = lookup as unknown as typeof dns.lookup
  t.teardown(() => { dns.lookup = original })
}

/** `OPTIONS / HTTP/1.0` (HAProxy's probe) on `host`. */
async function probeAt (host: string, port: number): Promise<string> {
  const answer = await rawHttp(port, 'OPTIONS / HTTP/1.0\r\n\r\n', { host })
  return `${answer.status} ${answer.body.trim()}`
}

/** The suite in a prefixed encapsulated context; returns that context's pool. */
async function registerInContext (app: FastifyInstance): Promise<() => BackpressurePool> {
  let child: FastifyInstance | undefined
  await app.register(async (api) => {
    await api.register(backpressure, SUITE)
    child = api
  }, { prefix: '/api' })
  return () => (child as FastifyInstance).pool
}

/** Fills the pool (two threads, three tasks) until `during()` has run. */
async function whileBusy (pool: BackpressurePool, during: () => Promise<void>): Promise<void> {
  const busy = once(pool, 'busy')
  const tasks = [1, 2, 3].map(() => pool.run({ op: 'block', ms: 300 }))
  await busy
  await during()
  await Promise.all(tasks)
}

t.test('listen({ host: \'localhost\' }) resolving to 127.0.0.1 and ::1, the suite in an encapsulated context: both servers answer the probe, free and busy', async (t) => {
  localhostResolvesToBoth(t)
  let pool!: () => BackpressurePool
  const { app } = await startApp(t, { pool: false, listen: false, setup: async (app) => { pool = await registerInContext(app) } })
  await app.listen({ host: 'localhost', port: 0 })
  const { port } = app.server.address() as AddressInfo
  t.same(app.addresses().map((address) => (address as AddressInfo).address).sort(), ['127.0.0.1', '::1'], 'Fastify bound a second server for ::1')
  t.same([await probeAt('127.0.0.1', port), await probeAt('::1', port)], ['200 free', '200 free'])
  await whileBusy(pool(), async () => {
    t.same([await probeAt('127.0.0.1', port), await probeAt('::1', port)], ['503 busy', '503 busy'])
  })
  const seen: string[] = []
  app.server.on('request', (request: IncomingMessage) => { seen.push(`${request.method} ${request.url}`) })
  t.equal((await rawHttp(port, 'GET /nothing HTTP/1.0\r\n\r\n', { host: '::1' })).status, 404, 'the app still serves ::1')
  await app.close()
  t.same(seen, [], 'requests on ::1 never went through the main server')
  await t.rejects(probeAt('::1', port), { code: 'ECONNREFUSED' }, 'the ::1 server closed with the app')
})

t.test('HTTPS and HTTP/2 on localhost: both addresses answer the probe', async (t) => {
  localhostResolvesToBoth(t)
  for (const [label, fastify] of [['https', { https: TLS }], ['http2', { http2: true }]] as const) {
    const { app } = await startApp(t, { pool: false, listen: false, fastify, setup: async (app) => { await registerInContext(app) } })
    await app.listen({ host: 'localhost', port: 0 })
    const { port } = app.server.address() as AddressInfo
    for (const host of ['127.0.0.1', '::1']) {
      const answer = label === 'https' ? await httpsOptions(host, port) : await h2Options(host, port)
      t.same(answer, { status: 200, body: 'free\n' }, `${label} on ${host}`)
    }
    await app.close()
  }
})

t.test('a request listener added after the front door never sees a probe the door answered', async (t) => {
  const { app, port } = await startApp(t, withPlugin(backpressure, { ...SUITE, httpchk: { ...SUITE.httpchk, liveness: '/livez' } }, (app) => {
    app.get('/data', async () => 'data')
  }))
  const seen: string[] = []
  app.server.on('request', (request: IncomingMessage) => { seen.push(`${request.method} ${request.url}`) })
  t.equal((await haproxyProbe(port)).body, 'free\n')
  t.equal((await rawHttp(port, 'GET /livez HTTP/1.0\r\n\r\n')).body, 'alive\n')
  t.equal((await rawHttp(port, 'GET /data HTTP/1.0\r\n\r\n')).body, 'data')
  t.same(seen, ['GET /data'], 'it saw the app\'s request only')
})

t.test('serverFactory: the factory\'s server gets the front door, before its own request listeners', async (t) => {
  const seenByFactory: string[] = []
  const { app, port } = await startApp(t, {
    ...withPlugin(backpressure, SUITE, (app) => { app.get('/data', async () => 'data') }),
    fastify: {
      serverFactory: (handler: RequestListener) => createServer((request, response) => {
        seenByFactory.push(`${request.method} ${request.url}`)
        handler(request, response)
      })
    }
  })
  await assertFreeBusyFree(t, port, app.pool, 'serverFactory')
  t.equal((await rawHttp(port, 'GET /data HTTP/1.0\r\n\r\n')).body, 'data')
  t.same(seenByFactory, ['GET /data'], 'the factory\'s listener saw the app\'s request, no probe')
})

t.test('serverFactory: a server that hands requests to Fastify without a request event is refused at ready()', async (t) => {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({
    serverFactory: (handler: RequestListener) => {
      const server = createServer()
      server.on('dispatch', handler)
      return server
    }
  })
  t.teardown(() => app.close())
  await app.register(backpressure, SUITE)
  const error = await readyError(app)
  t.match(error, { code: 'FST_BACKPRESSURE_UNCOVERED_SERVER', message: /serverFactory.*'request'/ })
})

function httpsOptions (host: string, port: number): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    httpsRequest({ host, port, method: 'OPTIONS', path: '/', rejectUnauthorized: false }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk }).on('end', () => { resolve({ status: response.statusCode as number, body }) })
    }).on('error', reject).end()
  })
}

async function h2Options (host: string, port: number): Promise<{ status: number, body: string }> {
  const session = http2Connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`)
  try {
    return await h2Request(session, 'OPTIONS', '/')
  } finally {
    session.destroy()
  }
}
