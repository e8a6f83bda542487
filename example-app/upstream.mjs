// A deliberately slow upstream service for the example app's /upstream route: a plain node:http
// server on loopback that answers every request with a small JSON body after `delayMs`
// (`?delay=N` overrides it per request, capped at 30 s).
//
// Used by server.mjs when UPSTREAM_URL is not set, and by the demo (demo.mjs); also runs on its own:
//   UPSTREAM_PORT=4000 UPSTREAM_DELAY_MS=500 node example-app/upstream.mjs
import { createServer } from 'node:http'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const MAX_DELAY_MS = 30000

/**
 * @param {{ host?: string, port?: number, delayMs?: number }} [options]
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void> }>}
 */
export async function startUpstream ({ host = '127.0.0.1', port = 0, delayMs = 300 } = {}) {
  const pending = new Set()
  let served = 0
  const server = createServer(function onUpstreamRequest (req, res) {
    const asked = new URL(req.url ?? '/', 'http://upstream').searchParams.get('delay')
    const delay = asked !== null && Number(asked) >= 0 ? Math.min(Number(asked), MAX_DELAY_MS) : delayMs
    const timer = setTimeout(() => {
      pending.delete(timer)
      served++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ from: 'slow-upstream', delayMs: delay, served, at: new Date().toISOString() }))
    }, delay)
    pending.add(timer)
    // A client that gives up (the worker's fetch timeout) should not leave a timer behind.
    res.once('close', () => { clearTimeout(timer); pending.delete(timer) })
  })
  server.listen(port, host)
  await once(server, 'listening')
  const address = /** @type {import('node:net').AddressInfo} */ (server.address())

  async function close () {
    for (const timer of pending) clearTimeout(timer)
    pending.clear()
    const closed = once(server, 'close')
    server.close()
    server.closeAllConnections()
    await closed
  }

  return { url: `http://${host}:${address.port}/`, port: address.port, close }
}

/* Run on its own: `node example-app/upstream.mjs`. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const upstream = await startUpstream({
    host: process.env.UPSTREAM_HOST ?? '127.0.0.1',
    port: Number(process.env.UPSTREAM_PORT ?? 0),
    delayMs: Number(process.env.UPSTREAM_DELAY_MS ?? 300)
  })
  console.log(`slow upstream listening on ${upstream.url}`)
  const stop = () => { void upstream.close() }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
