import { once } from 'node:events'
import { connect } from 'node:net'
import t from 'tap'
import { startApp, TWO_THREADS, type StartAppOptions } from '../../helpers/app.js'
import { agentCheck, haproxyProbe, rawHttp, rawHttpOn } from '../../helpers/raw-client.js'

const work = (port: number, ms: number): Promise<{ status: number, body: string }> =>
  rawHttp(port, `GET /work?ms=${ms} HTTP/1.0\r\n\r\n`, { timeoutMs: 20_000 })

function withWorkRoute (options: StartAppOptions): StartAppOptions {
  return {
    ...options,
    setup (app) {
      app.get('/work', async (request) => {
        const { ms } = request.query as { ms: string }
        return app.pool.run({ op: 'block', ms: Number(ms), value: `done ${ms}` })
      })
    }
  }
}

t.test('drain(): reports draining at once, serves through the grace, lets work finish, then closes', async (t) => {
  const { app, port } = await startApp(t, withWorkRoute({ pool: TWO_THREADS, httpchk: { agent: { port: 0 }, drain: { grace: 2000 } } }))
  const agentPort = app.backpressure.agentPort as number
  t.equal((await haproxyProbe(port)).status, 200, 'HAProxy has probed: the grace period now matters')
  t.equal(app.backpressure.draining, false)

  // Work accepted before draining: two running and two queued behind them.
  const before = [work(port, 300), work(port, 300), work(port, 300), work(port, 300)]
  const queued = once(app.pool, 'busy')
  await queued
  const started = Date.now()
  let drained = false
  const drain = app.backpressure.drain().then(() => { drained = true })
  t.equal(app.backpressure.draining, true, 'draining starts synchronously')
  t.equal(app.backpressure.drain(), app.backpressure.drain(), 'drain() is idempotent')

  const probe = await haproxyProbe(port)
  t.equal(probe.status, 503)
  t.equal(probe.body, 'draining\n')
  t.equal(probe.headers['retry-after'], '1')
  t.match(await agentCheck(agentPort), /^up drain \d+% maxconn:4 #draining\n$/)
  t.equal(app.backpressure.probeState(), 'draining')

  // A request arriving during the grace is served, not refused by Fastify's return503OnClosing.
  // (It is the last to finish, and the close follows its answer at once: whether the client reads
  // the answer before the close resolves is a race, so the grace is checked when it arrives.)
  const arrived = new Promise<boolean>((resolve) => {
    app.server.on('request', function onDuring (request: { url?: string }) {
      if (request.url === '/work?ms=10') resolve(drained)
    })
  })
  const during = await work(port, 10)
  t.equal(await arrived, false, 'arrived while the grace period ran')
  t.equal(during.status, 200)
  t.equal(during.body, 'done 10')

  const answers = await Promise.all(before)
  t.same(answers.map((a) => a.status), [200, 200, 200, 200], 'no accepted request was lost')
  await drain
  t.ok(Date.now() - started >= 450, `closed after the grace (${Date.now() - started} ms)`)
  await t.rejects(haproxyProbe(port), { code: 'ECONNREFUSED' })
  await t.rejects(agentCheck(agentPort), { code: 'ECONNREFUSED' })
})

t.test('drain.onClose: app.close() serves the grace too: the probe fails at once and accepted work finishes', async (t) => {
  const { app, port } = await startApp(t, withWorkRoute({
    pool: TWO_THREADS,
    fastify: { return503OnClosing: false },
    httpchk: { unavailableStatusCode: 404, drain: { grace: 400, onClose: true } }
  }))
  t.equal((await haproxyProbe(port)).status, 200)
  const inFlight = [work(port, 200), work(port, 200), work(port, 200)]
  await once(app.pool, 'busy')
  const started = Date.now()
  const closing = app.close()
  // preClose runs in a later tick; the server still accepts connections during the grace.
  const probe = await haproxyProbe(port)
  t.equal(probe.status, 404, 'the configured busy code (disable-on-404: NOLB)')
  t.equal(probe.body, 'draining\n')
  t.equal(app.backpressure.draining, true)
  const during = await work(port, 10)
  t.equal(during.status, 200, 'with return503OnClosing: false, Fastify keeps serving during the grace')
  t.same((await Promise.all(inFlight)).map((a) => a.status), [200, 200, 200])
  await closing
  t.ok(Date.now() - started >= 350, `close waited for the grace (${Date.now() - started} ms)`)
})

t.test('app.close() is prompt by default: draining at once, no grace, even after probes', async (t) => {
  const { app, port } = await startApp(t, withWorkRoute({ pool: TWO_THREADS, httpchk: { drain: { grace: 60_000 } } }))
  t.equal((await haproxyProbe(port)).status, 200, 'probed: a grace would matter')
  const inFlight = work(port, 200)
  await once(app.pool, 'dispatch')
  // A checker already connected, whose request arrives once the close has begun.
  const socket = connect({ host: '127.0.0.1', port })
  await once(socket, 'connect')
  const started = Date.now()
  const closing = app.close()
  const late = rawHttpOn(socket, 'OPTIONS / HTTP/1.0\r\n\r\n')
  t.equal((await late).body, 'draining\n', 'draining at once')
  t.equal((await inFlight).status, 200, 'the request in progress finished')
  await closing
  t.ok(Date.now() - started < 10_000, `closed in ${Date.now() - started} ms, without the 60 s grace`)
  t.equal(app.backpressure.probeState(), 'draining')
})

t.test('a connected, never-used socket does not hold the close', async (t) => {
  const { app, port } = await startApp(t, { pool: TWO_THREADS, httpchk: { drain: { grace: 60_000 } } })
  await haproxyProbe(port)
  const idle = connect({ host: '127.0.0.1', port })
  await once(idle, 'connect')
  const closed = once(idle, 'close')
  await app.close()
  await closed
  t.ok(idle.destroyed, 'the server closed the never-used connection')
})

t.test('the grace is skipped when no probe or agent check ever came, by app.close() and drain() alike', async (t) => {
  for (const close of ['close', 'drain'] as const) {
    const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { drain: { grace: 60_000, onClose: close === 'close' } } })
    const started = Date.now()
    await (close === 'close' ? app.close() : app.backpressure.drain())
    t.equal(app.backpressure.draining, true)
    t.ok(Date.now() - started < 10_000, `${close}: closed without waiting 60 s`)
  }
})

t.test('an agent check alone makes the grace matter; a second signal ends it', async (t) => {
  const before = process.listenerCount('SIGUSR2')
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { agent: { port: 0 }, drain: { grace: 60_000, signals: ['SIGUSR2'] } } })
  t.equal(process.listenerCount('SIGUSR2'), before + 1)
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'up ready 100% maxconn:4\n')
  const draining = once(process, 'SIGUSR2')
  process.kill(process.pid, 'SIGUSR2')
  await draining
  t.equal(app.backpressure.draining, true, 'the signal started the drain')
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'up drain 100% maxconn:4 #draining\n')
  const started = Date.now()
  process.kill(process.pid, 'SIGUSR2')
  await app.backpressure.drain()
  t.ok(Date.now() - started < 10_000, 'the second signal closed without waiting 60 s')
  t.equal(process.listenerCount('SIGUSR2'), before, 'the handler is removed on close')
  t.equal(app.backpressure.agentPort, null)
})

t.test('signals: true handles SIGTERM and SIGINT, and removes both handlers on close', async (t) => {
  const term = process.listenerCount('SIGTERM')
  const int = process.listenerCount('SIGINT')
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { drain: { signals: true } } })
  t.equal(process.listenerCount('SIGTERM'), term + 1)
  t.equal(process.listenerCount('SIGINT'), int + 1)
  await app.close()
  t.equal(process.listenerCount('SIGTERM'), term)
  t.equal(process.listenerCount('SIGINT'), int)
})

t.test('app.close() during drain()\'s grace joins it: the same grace and deadline, one close; drain() stays idempotent; signal handlers removed', async (t) => {
  const before = process.listenerCount('SIGUSR2')
  const { app, port, logs } = await startApp(t, {
    pool: TWO_THREADS,
    logLevel: 'warn',
    httpchk: { drain: { grace: 300, timeout: 600, signals: ['SIGUSR2'] } },
    setup (app) { app.get('/hang', () => new Promise(() => {})) }
  })
  t.equal(process.listenerCount('SIGUSR2'), before + 1)
  await haproxyProbe(port)
  // A request that never ends: only the deadline ends it.
  const hung = rawHttp(port, 'GET /hang HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 30_000 }).catch(() => undefined)
  await new Promise<void>((resolve) => { app.server.once('request', () => { resolve() }) })
  let closes = 0
  app.server.on('close', () => { closes++ })
  const started = Date.now()
  const drain = app.backpressure.drain()
  const close = app.close()
  t.equal(app.backpressure.drain(), drain, 'drain() returns the same promise')
  const during = await haproxyProbe(port)
  t.equal(`${during.status} ${during.body}`, '503 draining\n', 'the server still answers during the grace: the balancers can see it go')
  await Promise.all([drain, close])
  const elapsed = Date.now() - started
  t.ok(elapsed >= 300, `the close waited for the grace (${elapsed} ms)`)
  t.ok(elapsed >= 600, `and for the deadline drain() started, which ended the hung request (${elapsed} ms)`)
  await hung
  t.equal(logs.messages('shutdown deadline passed: destroying the connections left').length, 1, 'one deadline')
  t.equal(closes, 1, 'the server closed once')
  t.equal(process.listenerCount('SIGUSR2'), before, 'the signal handler is removed')
  await t.rejects(haproxyProbe(port), { code: 'ECONNREFUSED' })
})

t.test('with Fastify defaults and drain.onClose, app.close() fails the probe during the grace', async (t) => {
  const { app, port } = await startApp(t, { pool: TWO_THREADS, httpchk: { drain: { grace: 2000, onClose: true } } })
  await haproxyProbe(port)
  const closing = app.close()
  const probe = await haproxyProbe(port)
  t.equal(probe.status, 503)
  await closing
})

t.test('while draining, every HTTP/1 answer says Connection: close, the probe\'s own included, and a busy keep-alive connection cannot hold the close', async (t) => {
  const { request, Agent } = await import('node:http')
  const { app, port } = await startApp(t, withWorkRoute({ pool: TWO_THREADS, httpchk: { liveness: '/livez', drain: { grace: 3000 } } }))
  await haproxyProbe(port)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const fresh = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy(); fresh.destroy() })
  const send = (method: string, path: string, via = agent): Promise<{ status: number, connection: string | undefined }> => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path, agent: via }, (response) => {
      response.resume()
      response.on('end', () => { resolve({ status: response.statusCode as number, connection: response.headers.connection }) })
    }).on('error', reject).end()
  })
  t.equal((await send('GET', '/work?ms=1')).connection, 'keep-alive', 'keep-alive before draining')
  t.same(await send('OPTIONS', '/'), { status: 200, connection: 'keep-alive' }, 'the probe too')
  // Still running when the grace ends and the app closes: its keep-alive connection goes idle later.
  const slow = send('GET', '/work?ms=4000')
  await once(app.pool, 'dispatch')
  const started = Date.now()
  const drained = app.backpressure.drain()
  const during = await send('GET', '/work?ms=1', fresh)
  t.equal(during.status, 200, 'served during the grace')
  t.equal(during.connection, 'close', 'a request that arrives while draining is told to close its connection')
  t.same(await send('OPTIONS', '/', fresh), { status: 503, connection: 'close' }, 'the probe\'s own 503 draining too')
  t.same(await send('GET', '/livez', fresh), { status: 200, connection: 'close' }, 'and the liveness answer')
  t.equal((await slow).status, 200, 'the request in progress finished')
  await drained
  // Fastify's keepAliveTimeout is 72 s: a close that waited for the idle connection would take that.
  t.ok(Date.now() - started < 30_000, `closed in ${Date.now() - started} ms, not after keepAliveTimeout`)
})

t.test('SIGTERM with a connected, never-used socket open: the process drains and exits', async (t) => {
  const { startChild } = await import('../../../tools/child.mjs')
  const { fileURLToPath } = await import('node:url')
  const graceMs = 300
  const app = startChild(process.execPath, [...process.execArgv, fileURLToPath(new URL('../../fixtures/signal-app.ts', import.meta.url))], {
    env: { ...process.env, GRACE_MS: String(graceMs) }
  })
  t.teardown(() => app.stop({ signal: 'SIGKILL' }))
  const port = Number((await app.waitForLine((line) => line.startsWith('listening '))).split(' ')[1])
  t.equal((await haproxyProbe(port)).status, 200, 'probed: the grace applies')
  // A browser preconnect or a TCP check: connected, never used.
  const idle = connect({ host: '127.0.0.1', port })
  await once(idle, 'connect')
  const idleClosed = once(idle, 'close')
  const started = Date.now()
  process.kill(app.pid as number, 'SIGTERM')
  const exit = await app.exited
  const elapsed = Date.now() - started
  t.same(exit, { code: 0, signal: null }, 'exited by itself, code 0')
  t.ok(elapsed >= graceMs, `served the ${graceMs} ms grace first (${elapsed} ms)`)
  t.ok(elapsed < 60_000, `exited in ${elapsed} ms, long before the 60 s deadline: the idle socket did not hold it`)
  await idleClosed
})

t.test('drain.timeout bounds the shutdown: a request that never ends is cut, and said so in the log', async (t) => {
  const { app, port, logs } = await startApp(t, {
    pool: TWO_THREADS,
    logLevel: 'warn',
    httpchk: { drain: { grace: 0, timeout: 200 } },
    setup (app) { app.get('/hang', () => new Promise(() => {})) }
  })
  const hung = rawHttp(port, 'GET /hang HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 30_000 })
  await new Promise<void>((resolve) => { app.server.once('request', () => { resolve() }) })
  await app.close()
  // Reset or closed, the client read nothing: the connection was destroyed, not answered.
  t.equal(await hung.then((answer) => answer.raw, () => ''), '', 'the hung request got no answer: its connection was destroyed')
  const [line] = logs.messages('shutdown deadline passed: destroying the connections left')
  t.equal(line?.connections, 1)
  t.equal(line?.timeout, 200, 'the log names the option: drain.timeout')
})

t.test('drain() with drain.onClose: the grace is served once, not again by the close it leads to', async (t) => {
  const grace = 4000
  const { app, port } = await startApp(t, { pool: TWO_THREADS, httpchk: { drain: { grace, onClose: true } } })
  await haproxyProbe(port)
  const started = Date.now()
  await app.backpressure.drain()
  const elapsed = Date.now() - started
  t.ok(elapsed >= grace - 100, `the grace was served (${elapsed} ms)`)
  // Served twice, it could not end before 2 × grace: the grace itself is the margin.
  t.ok(elapsed < 2 * grace, `once: closed in ${elapsed} ms`)
})
