// A small fault-injecting TCP proxy on loopback, in the spirit of Vaurien: it forwards bytes to a
// target and, on demand, holds each chunk for `delayMs` before passing it on. Put it between the
// app's worker tasks and their upstream to replay a "blip" (an upstream that suddenly answers
// slowly) without touching the upstream itself. Used by the e2e tests and the demo.
//
//   const proxy = await startFaultProxy(t, { port: upstreamPort })   // t: anything with teardown(), or undefined
//   proxy.setDelay(3000)   // blip on: every request/response chunk now waits 3 s
//   proxy.setDelay(0)      // blip off
//
// Works at the TCP level, so it also delays requests on kept-alive connections. Chunks keep their
// order (each waits for the one before it). close() (or the teardown) closes the listener and
// every connection.
import { once } from 'node:events'
import { createConnection, createServer } from 'node:net'
import { Transform } from 'node:stream'

/** Holds each chunk for the delay current when it arrived; a zero delay passes it straight on. */
class DelayStream extends Transform {
  #delay
  #onDelayed
  #timer

  constructor (delay, onDelayed) {
    super()
    this.#delay = delay
    this.#onDelayed = onDelayed
  }

  _transform (chunk, _encoding, callback) {
    const ms = this.#delay()
    if (ms <= 0) {
      callback(null, chunk)
      return
    }
    this.#onDelayed()
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      callback(null, chunk)
    }, ms)
  }

  _destroy (error, callback) {
    clearTimeout(this.#timer)
    callback(error)
  }
}

/**
 * @param {{ teardown: (fn: () => unknown) => void } | undefined} t
 * @param {{ port: number, host?: string, delayMs?: number }} options
 */
export async function startFaultProxy (t, options) {
  const host = options.host ?? '127.0.0.1'
  let delayMs = options.delayMs ?? 0
  let connections = 0
  let delayedChunks = 0
  const sockets = new Set()
  const currentDelay = () => delayMs
  const countDelayed = () => { delayedChunks++ }

  function track (socket) {
    sockets.add(socket)
    socket.once('close', () => { sockets.delete(socket) })
  }

  const server = createServer(function onClient (client) {
    connections++
    const upstream = createConnection({ host, port: options.port })
    track(client)
    track(upstream)
    const toUpstream = new DelayStream(currentDelay, countDelayed)
    const toClient = new DelayStream(currentDelay, countDelayed)
    client.pipe(toUpstream).pipe(upstream)
    upstream.pipe(toClient).pipe(client)
    // Either side failing or closing ends the pair (a refused upstream looks like a reset to the client).
    const end = () => {
      client.destroy()
      upstream.destroy()
      toUpstream.destroy()
      toClient.destroy()
    }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', end)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())

  let closed
  const proxy = {
    port,
    url: `http://127.0.0.1:${port}/`,
    get delayMs () { return delayMs },
    setDelay (ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a finite number >= 0; received ${ms}`)
      delayMs = ms
    },
    get connections () { return connections },
    get delayedChunks () { return delayedChunks },
    close () {
      closed ??= new Promise((resolve) => {
        server.close(() => { resolve() })
        for (const socket of sockets) socket.destroy()
      })
      return closed
    }
  }
  t?.teardown(proxy.close)
  return proxy
}
