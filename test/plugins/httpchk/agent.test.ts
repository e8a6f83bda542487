import { once } from 'node:events'
import { connect, createServer } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { AgentServer, MAX_AGENT_CONNECTIONS } from '../../../lib/haproxy/agent-server.js'
import httpchkPlugin from '../../../plugins/httpchk/index.js'
import poolPlugin from '../../../plugins/pool/index.js'
import { startApp, TWO_THREADS, WORKER } from '../../helpers/app.js'
import { agentCheck } from '../../helpers/raw-client.js'

/**
 * Holds a connection open after the agent's answer (our side never ends). `answered` resolves
 * with what the agent wrote once it ended its side; `dropped` once the agent has dropped the
 * connection, with how long it was held. The agent already sent its FIN, so a dropped socket only
 * shows when we write: each byte after the drop gets a reset. Bounded by the test's own timeout.
 */
function holdOpen (port: number): { answered: Promise<string>, dropped: Promise<number> } {
  const started = Date.now()
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  let received = ''
  socket.on('data', (chunk: Buffer) => { received += chunk.toString() })
  socket.on('error', () => {})
  let knock: NodeJS.Timeout | undefined
  const dropped = new Promise<number>((resolve) => {
    socket.on('close', () => {
      clearInterval(knock)
      resolve(Date.now() - started)
    })
  })
  const answered = new Promise<string>((resolve) => {
    socket.on('end', () => {
      knock = setInterval(() => { if (!socket.destroyed) socket.write('.') }, 25)
      resolve(received)
    })
  })
  return { answered, dropped }
}

function agentPort (app: { backpressure: { agentPort: number | null } }): number {
  const port = app.backpressure.agentPort
  if (port === null) throw new Error('the agent is not listening')
  return port
}

t.test('answers one line from the pool state; the port is exposed (port 0 works)', async (t) => {
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { agent: { port: 0 } } })
  const port = agentPort(app)
  t.ok(port > 0)
  t.equal(await agentCheck(port), 'up ready 100% maxconn:4\n', '2 threads + a queue of 2 by default')
  // HAProxy's agent-send string, or anything else sent, changes nothing.
  t.equal(await agentCheck(port, 'hello\n'), 'up ready 100% maxconn:4\n')

  const running = [1, 2].map(() => app.pool.run({ op: 'block', ms: 400 }))
  while (app.pool.snapshot().running < 2) await once(app.pool, 'dispatch')
  t.equal(await agentCheck(port), 'up ready 50% maxconn:4\n', 'free, both threads running: the weight follows the free share (2 of 4 slots)')
  const busy = once(app.pool, 'busy')
  const queued = app.pool.run({ op: 'block', ms: 10 })
  await busy
  t.equal(await agentCheck(port), 'up ready 1% maxconn:4 #busy: pool\n', 'busy (a task queued, no thread idle): the weight at its floor, as the probe says busy')
  await Promise.all([...running, queued])
})

t.test('agent.maxQueue, agent.minWeight and a down pool', async (t) => {
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { agent: { port: 0, maxQueue: 0, minWeight: 0 } } })
  const port = agentPort(app)
  t.equal(await agentCheck(port), 'up ready 100% maxconn:2\n')
  const busy = once(app.pool, 'busy')
  const tasks = [1, 2, 3].map(() => app.pool.run({ op: 'block', ms: 300 }))
  await busy
  t.equal(await agentCheck(port), 'up ready 0% maxconn:2 #busy: pool\n')
  await Promise.all(tasks)
  const closing = app.pool.close()
  t.equal(await agentCheck(port), 'down ready maxconn:2 #down: pool\n')
  await closing
})

t.test('garbage, early hang-ups and silent clients never break it; close() destroys held sockets', async (t) => {
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { agent: { port: 0, timeout: 300 } } })
  const port = agentPort(app)
  // Binary garbage and a large write.
  t.equal(await agentCheck(port, Buffer.from([0, 255, 13, 10, 0x1b])), 'up ready 100% maxconn:4\n')
  t.equal(await agentCheck(port, Buffer.alloc(256 * 1024, 0x41)), 'up ready 100% maxconn:4\n')
  // Hang up at once, many times.
  await Promise.all(Array.from({ length: 20 }, async () => {
    const socket = connect({ host: '127.0.0.1', port })
    socket.on('error', () => {})
    await once(socket, 'connect')
    socket.destroy()
  }))
  // A client that never closes its side and keeps trickling bytes (slowloris) is cut after agent.timeout.
  const held = holdOpen(port)
  t.equal(await held.answered, 'up ready 100% maxconn:4\n')
  const heldMs = await held.dropped
  t.ok(heldMs >= 250, `held for ${heldMs} ms, until the timeout`)
  t.equal(await agentCheck(port), 'up ready 100% maxconn:4\n', 'still answering')
})

t.test('the agent closes with the app; sockets held are destroyed', async (t) => {
  const app = Fastify()
  await app.register(poolPlugin, { filename: WORKER, maxThreads: 1, execArgv: [] })
  await app.register(httpchkPlugin, { agent: { port: 0, timeout: 60_000 } })
  await app.ready()
  const port = agentPort(app)
  const held = holdOpen(port)
  t.equal(await held.answered, 'up ready 100% maxconn:2\n')
  await app.close()
  t.ok(await held.dropped < 30_000, 'dropped by close(), long before its timeout')
  t.equal(app.backpressure.agentPort, null)
  await t.rejects(agentCheck(port), { code: 'ECONNREFUSED' })
})

t.test('a failing snapshot: the agent sends an empty line (HAProxy keeps its state) and logs the error', async (t) => {
  const logged: string[] = []
  const { app } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: { agent: { port: 0 } },
    fastify: { logger: { level: 'error', stream: { write (line: string) { logged.push(line) } } } }
  })
  // The fault path: something inside the reply throws. Nothing in the pool throws today, so force it.
  const snapshot = app.pool.snapshot
  app.pool.snapshot = () => { throw new Error('snapshot failed') }
  t.equal(await agentCheck(app.backpressure.agentPort as number), '\n')
  app.pool.snapshot = snapshot
  t.ok(logged.some((line) => line.includes('the agent-check reply failed') && line.includes('snapshot failed')))
})

t.test('agent off: agentPort is null', async (t) => {
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: {}, listen: false })
  t.equal(app.backpressure.agentPort, null)
})

t.test('a port already in use fails ready()', async (t) => {
  const blocker = createServer()
  blocker.listen({ host: '127.0.0.1', port: 0 })
  await once(blocker, 'listening')
  t.teardown(() => { blocker.close() })
  const address = blocker.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(poolPlugin, { filename: WORKER, maxThreads: 1, execArgv: [] })
  await app.register(httpchkPlugin, { agent: { port } })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_BACKPRESSURE_AGENT_LISTEN_FAILED', message: new RegExp(`httpchk\\.agent\\.port.*${port}.*EADDRINUSE`) })
})

t.test('AgentServer: a reply that throws sends the fallback line and reports the error', async (t) => {
  const errors: unknown[] = []
  const server = new AgentServer({
    host: '127.0.0.1',
    port: 0,
    timeoutMs: 1000,
    fallback: '',
    reply () { throw new Error('boom') },
    onReplyError (error) { errors.push(error) }
  })
  t.equal(server.port, undefined)
  const port = await server.listen()
  t.equal(server.port, port)
  t.equal(await agentCheck(port), '\n')
  t.equal(errors.length, 1)
  await server.close()
  await t.resolves(server.close(), 'closing twice is harmless')
})

t.test(`AgentServer: at most ${MAX_AGENT_CONNECTIONS} sockets are held at once`, async (t) => {
  const server = new AgentServer({ host: '127.0.0.1', port: 0, timeoutMs: 60_000, fallback: '', reply: () => 'up' })
  t.teardown(() => server.close())
  const port = await server.listen()
  const held = Array.from({ length: MAX_AGENT_CONNECTIONS }, () => holdOpen(port))
  t.ok((await Promise.all(held.map((h) => h.answered))).every((answer) => answer === 'up\n'), 'every held socket was answered')
  t.equal(server.connections, MAX_AGENT_CONNECTIONS)
  const refused = connect({ host: '127.0.0.1', port })
  refused.on('error', () => {})
  let answer = ''
  refused.on('data', (chunk: Buffer) => { answer += chunk.toString() })
  await once(refused, 'close')
  t.equal(answer, '', 'one more connection is dropped without an answer')
  await server.close()
  const heldMs = await Promise.all(held.map((h) => h.dropped))
  t.ok(heldMs.every((ms) => ms < 30_000), 'close() dropped them all')
  t.equal(server.connections, 0)
})
