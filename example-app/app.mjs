// The example app: a small real Fastify app built on fastify-backpressure. server.mjs reads the env,
// starts the slow upstream when needed, listens and handles signals; this file only builds the app.
import Fastify from 'fastify'
import backpressure from 'fastify-backpressure'
import dashboard from './dashboard.mjs'

const WORKER = new URL('./worker.mjs', import.meta.url)

/**
 * @param {ReturnType<import('./config.mjs').readConfig>} config
 * @param {{ upstreamUrl: string }} upstream the resolved upstream URL
 */
export async function buildApp (config, { upstreamUrl }) {
  const app = Fastify({ logger: { level: config.logLevel } })

  // Registration order does not matter for the probe: it is answered at the server's front door,
  // before any route or hook of any context (docs/readiness.md).
  await app.register(backpressure, {
    pool: { filename: WORKER, maxThreads: config.maxThreads, minThreads: config.maxThreads, maxQueue: config.maxQueue, timeout: config.taskTimeoutMs },
    // /upstream calls the upstream on the main thread, through a lane: a hung upstream fills the
    // lane's slots, the lane goes busy, and the probe says so (a worker thread is not needed for I/O).
    // It keeps the concurrency the calls had when they ran in worker threads (POOL_MAX_THREADS tasks
    // at once, POOL_MAX_QUEUE waiting), so the same env gives the same behaviour. UPSTREAM_ADAPTIVE
    // makes its concurrency adaptive instead: it follows the upstream's latency (docs/lanes.md), and
    // the agent's `maxconn` follows it.
    lanes: { upstream: { concurrency: config.upstreamAdaptive === null ? config.maxThreads : { adaptive: config.upstreamAdaptive }, maxQueue: config.maxQueue, timeout: config.upstreamTimeoutMs, affectsProbe: config.upstreamAffectsProbe } },
    httpchk: {
      method: config.probeMethods,
      url: config.probeUrl,
      unavailableStatusCode: config.probeUnavailableStatus,
      // SIGTERM/SIGINT: drain (probe and agent say so at once), serve for the grace (DRAIN_GRACE_MS,
      // by default 4 s: the HAProxy recipes' inter × (fall + 1)), then close.
      drain: { signals: true, grace: config.drainGraceMs },
      ...(config.livenessUrl === null ? {} : { liveness: config.livenessUrl }),
      ...(config.agentPort === null ? {} : { agent: { port: config.agentPort, host: config.host } }),
      // example-app/cluster.mjs runs this app in node:cluster workers, each on a port of its own.
      ...(process.env.BACKPRESSURE_OWN_PORT === '1' ? { ownPort: true } : {})
    },
    metrics: { exposeRoute: '/metrics' }
  })

  await app.register(dashboard, { prefix: '/dashboard', interval: config.dashboardIntervalMs })

  app.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8')
    return `<!doctype html><meta charset="utf-8"><title>fastify-backpressure example</title>
<h1>fastify-backpressure example app</h1><ul>
<li><a href="/page">/page</a>: a CPU-heavy render in the worker pool</li>
<li><a href="/upstream">/upstream</a>: the main thread calls a slow upstream in a lane, with a timeout</li>
<li><a href="/block?ms=500">/block?ms=500</a>: a worker blocks its thread (to saturate the pool)</li>
<li><a href="/critical">/critical</a> and <a href="/prefetch">/prefetch</a>: the same 20 ms task at priority 10 and 0</li>
<li><a href="/dashboard">/dashboard</a>: live queue depth, busy state, HAProxy state</li>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li></ul>
<p>Health probe: <code>OPTIONS /</code> (HAProxy's <code>option httpchk</code>).</p>`
  })

  // request.runInPool(): app.pool.run(), aborted if the client leaves before its answer (a queued
  // task is dropped, a running one stopped: nobody is waiting for it).
  app.get('/page', async (request, reply) => {
    const html = await request.runInPool({ op: 'page' })
    reply.type('text/html; charset=utf-8')
    return html
  })

  // request.runInLane(): the call runs on the main thread in the `upstream` lane; its signal fires
  // on the lane's deadline (UPSTREAM_TIMEOUT_MS, counted from arrival) or when the client leaves.
  app.get('/upstream', async (request, reply) => {
    const started = performance.now()
    try {
      const body = await request.runInLane('upstream', async (signal) => {
        const response = await fetch(upstreamUrl, { signal })
        if (!response.ok) throw new Error(`status ${response.status}`)
        return await response.json()
      })
      return { upstream: body, ms: Math.round(performance.now() - started) }
    } catch (error) {
      if (error.code === 'FST_BACKPRESSURE_TASK_TIMEOUT') return reply.code(504).send({ error: 'upstream timeout', timeoutMs: config.upstreamTimeoutMs })
      if (error.code === 'FST_BACKPRESSURE_TASK_FAILED') return reply.code(502).send({ error: 'upstream failed', message: error.cause?.message ?? String(error.cause) })
      throw error // queue full, client gone, closing: coded, with their own status
    }
  })

  const blockSchema = (defaultMs) => ({
    querystring: {
      type: 'object',
      properties: { ms: { type: 'integer', minimum: 0, maximum: config.blockMaxMs, default: defaultMs } },
      additionalProperties: false
    }
  })
  const block = async (request) => await request.runInPool({ op: 'block', ms: request.query.ms })
  app.get('/block', { schema: blockSchema(100) }, block)

  // Priorities (docs/priorities.md): the same task at two priorities, set once per route. When the
  // pool is overloaded it starts /critical first, and a /critical request that finds its queue full
  // of /prefetch ones takes the place of the newest of them (which is answered 503 at once).
  app.get('/critical', { schema: blockSchema(20), config: { backpressure: { priority: 10 } } }, block)
  app.get('/prefetch', { schema: blockSchema(20), config: { backpressure: { priority: 0 } } }, block)

  return app
}
