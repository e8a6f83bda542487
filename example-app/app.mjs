// The example app: a small real Fastify app built on fastify-backpressure. server.mjs reads the env,
// starts the slow upstream when needed, listens and handles signals; this file only builds the app.
import Fastify from 'fastify'
import backpressure from 'fastify-backpressure'
import dashboard from './dashboard.mjs'

const WORKER = new URL('./worker.mjs', import.meta.url).href

/**
 * Runs `task` in the pool, aborted if the client goes away before the answer is written
 * (a queued task is then dropped, a running one stops: nobody is waiting for it).
 */
function runForRequest (app, reply, task) {
  const controller = new AbortController()
  reply.raw.once('close', () => { if (!reply.raw.writableFinished) controller.abort() })
  return app.pool.run(task, { signal: controller.signal })
}

/**
 * @param {ReturnType<import('./config.mjs').readConfig>} config
 * @param {{ upstreamUrl: string }} upstream the resolved upstream URL
 */
export async function buildApp (config, { upstreamUrl }) {
  const app = Fastify({ logger: { level: config.logLevel } })

  // Register the suite first: onRequest hooks run in registration order, and the probe must answer
  // before any hook the app adds later (auth, rate limits, ...).
  await app.register(backpressure, {
    pool: { filename: WORKER, maxThreads: config.maxThreads, minThreads: config.maxThreads, maxQueue: config.maxQueue, timeout: config.taskTimeoutMs },
    httpchk: {
      method: config.probeMethods,
      url: config.probeUrl,
      busyStatusCode: config.probeBusyStatus,
      // The check timing of the HAProxy recipes (example-app/haproxy-config.mjs): the drain grace
      // defaults to inter × (fall + 1) = 4 s, enough for HAProxy to see the server go.
      haproxy: { inter: 1000, fall: 3 },
      // SIGTERM/SIGINT: drain (probe and agent say so at once), serve for the grace, then close.
      drain: { signals: true, ...(config.drainGraceMs === undefined ? {} : { graceMs: config.drainGraceMs }) },
      ...(config.agentPort === null ? {} : { agent: { port: config.agentPort, host: config.host } })
    },
    metrics: { exposeRoute: '/metrics' }
  })

  // server.close() waits for every open connection, and a keep-alive connection that goes idle after
  // close() began is not closed for it: it would hold shutdown for keepAliveTimeout (72 s in
  // Fastify). So once closing starts, every answer still in flight says `Connection: close`.
  let closing = false
  app.addHook('preClose', async function markClosing () { closing = true })
  app.addHook('onSend', async function closeConnectionsWhenClosing (_request, reply) {
    if (closing) reply.header('connection', 'close')
  })

  await app.register(dashboard, { prefix: '/dashboard', intervalMs: config.dashboardIntervalMs })

  app.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8')
    return `<!doctype html><meta charset="utf-8"><title>fastify-backpressure example</title>
<h1>fastify-backpressure example app</h1><ul>
<li><a href="/page">/page</a>: a CPU-heavy render in the worker pool</li>
<li><a href="/upstream">/upstream</a>: a worker calls a slow upstream, with a timeout</li>
<li><a href="/block?ms=500">/block?ms=500</a>: a worker blocks its thread (to saturate the pool)</li>
<li><a href="/dashboard">/dashboard</a>: live queue depth, busy state, HAProxy state</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li></ul>
<p>Health probe: <code>OPTIONS /</code> (HAProxy's <code>option httpchk</code>).</p>`
  })

  app.get('/page', async (_request, reply) => {
    const html = await runForRequest(app, reply, { op: 'page' })
    reply.type('text/html; charset=utf-8')
    return html
  })

  app.get('/upstream', async (_request, reply) => {
    const result = await runForRequest(app, reply, { op: 'upstream', url: upstreamUrl, timeoutMs: config.upstreamTimeoutMs })
    if (result.ok) return { upstream: result.body, ms: result.ms }
    if (result.reason === 'timeout') return reply.code(504).send({ error: 'upstream timeout', timeoutMs: result.timeoutMs })
    return reply.code(502).send({ error: 'upstream failed', message: result.message ?? `status ${result.status}` })
  })

  app.get('/block', {
    schema: {
      querystring: {
        type: 'object',
        properties: { ms: { type: 'integer', minimum: 0, maximum: config.blockMaxMs, default: 100 } },
        additionalProperties: false
      }
    }
  }, async (request, reply) => {
    return await runForRequest(app, reply, { op: 'block', ms: request.query.ms })
  })

  return app
}
