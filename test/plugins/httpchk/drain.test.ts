import { once } from 'node:events'
import t from 'tap'
import { startHttpchkApp, type StartOptions } from '../../helpers/httpchk-app.js'
import { agentCheck, haproxyProbe, rawHttp } from '../../helpers/raw-client.js'

const work = (port: number, ms: number): Promise<{ status: number, body: string }> =>
  rawHttp(port, `GET /work?ms=${ms} HTTP/1.0\r\n\r\n`, { timeoutMs: 20_000 })

function withWorkRoute (options: StartOptions): StartOptions {
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
  const { app, port } = await startHttpchkApp(t, withWorkRoute({ httpchk: { agent: { port: 0 }, drain: { graceMs: 500 } } }))
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
  t.match(await agentCheck(agentPort), /^up drain \d+% maxconn:4\n$/)
  t.equal(app.backpressure.probeState(), 'draining')

  // A request arriving during the grace is served, not refused by Fastify's return503OnClosing.
  const during = await work(port, 10)
  t.equal(during.status, 200)
  t.equal(during.body, 'done 10')
  t.equal(drained, false, 'served while the grace period ran')

  const answers = await Promise.all(before)
  t.same(answers.map((a) => a.status), [200, 200, 200, 200], 'no accepted request was lost')
  await drain
  t.ok(Date.now() - started >= 450, `closed after the grace (${Date.now() - started} ms)`)
  await t.rejects(haproxyProbe(port), { code: 'ECONNREFUSED' })
  await t.rejects(agentCheck(agentPort), { code: 'ECONNREFUSED' })
})

t.test('app.close() drains too: the probe fails at once and accepted work finishes', async (t) => {
  const { app, port } = await startHttpchkApp(t, withWorkRoute({
    fastify: { return503OnClosing: false },
    httpchk: { busyStatusCode: 404, drain: { graceMs: 400 } }
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

t.test('the grace is skipped when no probe or agent check ever came', async (t) => {
  const { app } = await startHttpchkApp(t, { httpchk: { drain: { graceMs: 60_000 } } })
  const started = Date.now()
  await app.close()
  t.equal(app.backpressure.draining, true)
  t.ok(Date.now() - started < 10_000, 'closed without waiting 60 s')
})

t.test('an agent check alone makes the grace matter; a second signal ends it', async (t) => {
  const before = process.listenerCount('SIGUSR2')
  const { app } = await startHttpchkApp(t, { httpchk: { agent: { port: 0 }, drain: { graceMs: 60_000, signals: ['SIGUSR2'] } } })
  t.equal(process.listenerCount('SIGUSR2'), before + 1)
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'up ready 100% maxconn:4\n')
  const draining = once(process, 'SIGUSR2')
  process.kill(process.pid, 'SIGUSR2')
  await draining
  t.equal(app.backpressure.draining, true, 'the signal started the drain')
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'up drain 100% maxconn:4\n')
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
  const { app } = await startHttpchkApp(t, { httpchk: { drain: { signals: true } } })
  t.equal(process.listenerCount('SIGTERM'), term + 1)
  t.equal(process.listenerCount('SIGINT'), int + 1)
  await app.close()
  t.equal(process.listenerCount('SIGTERM'), term)
  t.equal(process.listenerCount('SIGINT'), int)
})

t.test('app.close() during a drain grace: one close, both resolve', async (t) => {
  const { app, port } = await startHttpchkApp(t, { httpchk: { drain: { graceMs: 300 } } })
  await haproxyProbe(port)
  const drain = app.backpressure.drain()
  const close = app.close()
  await Promise.all([drain, close])
  t.equal(app.backpressure.draining, true)
  await t.rejects(haproxyProbe(port), { code: 'ECONNREFUSED' })
})

t.test('with Fastify defaults, app.close() still fails the probe during the grace (Fastify answers 503)', async (t) => {
  const { app, port } = await startHttpchkApp(t, { httpchk: { drain: { graceMs: 300 } } })
  await haproxyProbe(port)
  const closing = app.close()
  const probe = await haproxyProbe(port)
  t.equal(probe.status, 503)
  await closing
})

t.test('while draining, answers say Connection: close, so a busy keep-alive connection cannot hold the close', async (t) => {
  const { request, Agent } = await import('node:http')
  const { app, port } = await startHttpchkApp(t, withWorkRoute({ httpchk: { drain: { graceMs: 100 } } }))
  await haproxyProbe(port)
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => { agent.destroy() })
  const get = (path: string): Promise<{ status: number, connection: string | undefined }> => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent }, (response) => {
      response.resume()
      response.on('end', () => { resolve({ status: response.statusCode as number, connection: response.headers.connection }) })
    }).on('error', reject).end()
  })
  t.equal((await get('/work?ms=1')).connection, 'keep-alive', 'keep-alive before draining')
  // Still running when the grace ends and Fastify closes idle connections.
  const slow = get('/work?ms=600')
  await once(app.pool, 'dispatch')
  const started = Date.now()
  const drained = app.backpressure.drain()
  const answer = await slow
  t.equal(answer.status, 200)
  t.equal(answer.connection, 'close')
  await drained
  t.ok(Date.now() - started < 10_000, `closed in ${Date.now() - started} ms, not after keepAliveTimeout`)
})
