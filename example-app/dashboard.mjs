// The live dashboard: GET /dashboard (page), /dashboard/app.js (its script) and /dashboard/events
// (Server-Sent Events). Each event is one sample of the pool: pushed at once on every busy/free
// transition, plus a periodic one every `intervalMs`. The last few minutes of samples are kept so
// that a page opened late still draws the history. No build step and no CDN: the page draws its
// own SVG, so it works offline.
import { readFile } from 'node:fs/promises'

const HISTORY_MS = 5 * 60 * 1000
const HISTORY_MAX_SAMPLES = 5000
// A client that reads slower than we write is dropped rather than buffered without bound.
const MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * @param {import('fastify').FastifyInstance} app
 * @param {{ intervalMs?: number }} options
 */
export default async function dashboard (app, { intervalMs = 1000 }) {
  const [template, script] = await Promise.all([
    readFile(new URL('./public/dashboard.html', import.meta.url), 'utf8'),
    readFile(new URL('./public/dashboard.js', import.meta.url), 'utf8')
  ])
  // The page links its script by absolute path, whatever prefix the dashboard is registered under.
  const page = template.replaceAll('__BASE__', app.prefix)
  const clients = new Set()
  const history = []

  function sample (kind, snapshot = app.pool.snapshot()) {
    const now = Date.now()
    const entry = {
      t: now,
      kind,
      ...snapshot,
      transitions: app.pool.stats().transitions,
      // From the httpchk plugin: what the probe answers now, and the last X-Haproxy-Server-State
      // seen per balancer node (`http-check send-state`).
      probe: app.backpressure.probeState(),
      haproxy: app.backpressure.serverStates()
    }
    history.push(entry)
    while (history.length > HISTORY_MAX_SAMPLES || (history.length > 0 && history[0].t < now - HISTORY_MS)) history.shift()
    const frame = `event: sample\ndata: ${JSON.stringify(entry)}\n\n`
    for (const client of clients) {
      if (client.writableLength > MAX_BUFFERED_BYTES) client.destroy()
      else client.write(frame)
    }
  }

  const onBusy = (snapshot) => { sample('busy', snapshot) }
  const onFree = (snapshot) => { sample('free', snapshot) }
  app.pool.on('busy', onBusy)
  app.pool.on('free', onFree)
  const timer = setInterval(() => { sample('tick') }, intervalMs)
  // The dashboard must never keep the process alive.
  timer.unref()

  app.get('/', async (_request, reply) => {
    reply.type('text/html; charset=utf-8')
    return page
  })

  app.get('/app.js', async (_request, reply) => {
    reply.type('text/javascript; charset=utf-8')
    return script
  })

  app.get('/events', (_request, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify({ intervalMs, historyMs: HISTORY_MS, samples: history })}\n\n`)
    clients.add(res)
    res.once('close', () => { clients.delete(res) })
  })

  // SSE responses never end on their own, and server.close() waits for open requests: end them in
  // preClose, before Fastify closes the server, so shutdown is not blocked.
  app.addHook('preClose', async function preClose () {
    clearInterval(timer)
    app.pool.off('busy', onBusy)
    app.pool.off('free', onFree)
    for (const client of clients) client.end()
    clients.clear()
  })
}
