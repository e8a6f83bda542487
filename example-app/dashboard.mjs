// The live dashboard: GET /dashboard (page), /dashboard/app.js (its script) and /dashboard/events
// (Server-Sent Events). Each event is one sample: pushed at once on every busy/free transition of
// any executor, plus a periodic one every `interval` ms. A sample carries the pool's queue depth now
// and its peak since the previous sample (`queuedPeak`), so a burst between two samples still shows;
// every executor, the pool and each lane side by side (queue, running, concurrency, failures by reason,
// from their `snapshot()` and `stats()`); and the readiness the probe and the agent answer, with its
// reason (`app.backpressure.probeState()`, `probeReason()`). The last few minutes of samples are
// kept so that a page opened late still draws the history. No build step and no CDN: the page draws
// its own SVG, so it works offline.
import { readFile } from 'node:fs/promises'

const HISTORY_MS = 5 * 60 * 1000
const HISTORY_MAX_SAMPLES = 5000
// A client that reads slower than we write is dropped rather than buffered without bound.
const MAX_BUFFERED_BYTES = 1024 * 1024
// The pool emits no event when a task joins its queue, so between the events it does emit (busy,
// free, dispatch) the queue is also read this often: a burst that stands at least this long is seen.
const PEAK_POLL_MS = 10

/**
 * @param {import('fastify').FastifyInstance} app
 * @param {{ interval?: number }} options `interval`: ms between two periodic samples
 */
export default async function dashboard (app, { interval = 1000 }) {
  const [template, script] = await Promise.all([
    readFile(new URL('./public/dashboard.html', import.meta.url), 'utf8'),
    readFile(new URL('./public/dashboard.js', import.meta.url), 'utf8')
  ])
  // The page links its script by absolute path, whatever prefix the dashboard is registered under.
  const page = template.replaceAll('__BASE__', app.prefix)
  const clients = new Set()
  const history = []

  // The queue's peak since the last sample sent. Exact at every dispatch that leaves tasks queued
  // (the pool's queue is FIFO, so the task that just left was one of queued + 1), and at the busy
  // and free events; in between, read every PEAK_POLL_MS.
  let queuedPeak = 0
  const seePeak = (queued) => { if (queued > queuedPeak) queuedPeak = queued }
  function onDispatch () {
    const { queued } = app.pool.snapshot()
    seePeak(queued > 0 ? queued + 1 : queued)
  }
  const peakPoll = setInterval(() => { seePeak(app.pool.snapshot().queued) }, PEAK_POLL_MS)
  peakPoll.unref()

  // Every executor: the pool, then each lane (app.lanes, when the lanes plugin is registered).
  const executors = [app.pool, ...Object.values(app.hasDecorator('lanes') ? app.lanes : {})]

  function sample (kind, snapshot = app.pool.snapshot()) {
    const now = Date.now()
    seePeak(snapshot.queued)
    const stats = app.pool.stats()
    const entry = {
      t: now,
      kind,
      ...snapshot,
      queuedPeak,
      transitions: stats.transitions,
      failures: failuresOf(stats),
      executors: executors.map(describe),
      // From the httpchk plugin: what the probe and the agent answer now and why, and the last
      // X-Haproxy-Server-State seen per balancer node (`http-check send-state`).
      probe: app.backpressure.probeState(),
      reason: app.backpressure.probeReason() ?? null,
      haproxy: app.backpressure.serverStates()
    }
    queuedPeak = snapshot.queued
    history.push(entry)
    while (history.length > HISTORY_MAX_SAMPLES || (history.length > 0 && history[0].t < now - HISTORY_MS)) history.shift()
    const frame = `event: sample\ndata: ${JSON.stringify(entry)}\n\n`
    for (const client of clients) {
      if (client.writableLength > MAX_BUFFERED_BYTES) client.destroy()
      else client.write(frame)
    }
  }

  // A transition of any executor is pushed at once; the kind says whose (`busy`, `free` for the
  // pool, whose chart the page draws; `lane` for a lane).
  const onBusy = (snapshot) => { sample('busy', snapshot) }
  const onFree = (snapshot) => { sample('free', snapshot) }
  const onLane = () => { sample('lane') }
  const lanes = executors.slice(1)
  app.pool.on('busy', onBusy)
  app.pool.on('free', onFree)
  app.pool.on('dispatch', onDispatch)
  for (const lane of lanes) {
    lane.on('busy', onLane)
    lane.on('free', onLane)
  }
  const timer = setInterval(() => { sample('tick') }, interval)
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
    res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify({ intervalMs: interval, historyMs: HISTORY_MS, samples: history })}\n\n`)
    clients.add(res)
    res.once('close', () => { clients.delete(res) })
  })

  // SSE responses never end on their own, and server.close() waits for open requests: end them in
  // preClose, before Fastify closes the server, so shutdown is not blocked.
  app.addHook('preClose', async function preClose () {
    clearInterval(timer)
    clearInterval(peakPoll)
    app.pool.off('busy', onBusy)
    app.pool.off('free', onFree)
    app.pool.off('dispatch', onDispatch)
    for (const lane of lanes) {
      lane.off('busy', onLane)
      lane.off('free', onLane)
    }
    for (const client of clients) client.end()
    clients.clear()
  })
}

/**
 * Why calls failed, from an executor's lifetime counters (`stats()`): `rejected` is the queue full
 * (or the executor closing or down), `displaced` a task taken out of a full queue by one of higher
 * priority, `shed` the admission control, `crashed` a thread that exited (always 0 for a lane).
 */
function failuresOf (stats) {
  return { timedOut: stats.timedOut, queueFull: stats.rejected, displaced: stats.displaced, crashed: stats.crashed, shed: stats.shed, aborted: stats.aborted, errored: stats.errored }
}

/** One executor as the page shows it: its state, queue, running tasks, concurrency and failures. */
function describe (executor) {
  const { busy, queued, running } = executor.snapshot()
  return {
    name: executor.name,
    state: executor.down ? 'down' : busy ? 'busy' : 'free',
    queued,
    running,
    // Tasks it runs at once now: the pool's threads (× tasks per thread), a lane's concurrency (which an
    // adaptive lane moves).
    concurrency: executor.concurrency,
    affectsProbe: executor.affectsProbe,
    failures: failuresOf(executor.stats())
  }
}
