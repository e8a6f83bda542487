/**
 * A small fault-injecting TCP proxy on loopback, in the spirit of Vaurien: it forwards bytes to a
 * target and, on demand, holds each chunk for `delayMs` before passing it on. Put it between the
 * app's worker tasks and their upstream to replay a "blip" (an upstream that suddenly answers
 * slowly) without touching the upstream itself.
 *
 *   const proxy = await startFaultProxy(t, { port: upstreamPort })
 *   proxy.setDelay(3000)   // blip on: every request/response chunk now waits 3 s
 *   proxy.setDelay(0)      // blip off
 *
 * Works at the TCP level, so it also delays requests on kept-alive connections. Chunks keep their
 * order (each waits for the one before it). The teardown closes the listener and every connection.
 */
import { createConnection, createServer, type Socket } from 'node:net'
import { Transform, type TransformCallback } from 'node:stream'
import type { TestContext } from './haproxy.js'

export interface FaultProxyOptions {
  /** Target port on `host`. */
  port: number
  /** Target host. Default 127.0.0.1. */
  host?: string
  /** Initial delay per chunk in ms. Default 0. */
  delayMs?: number
}

export interface FaultProxy {
  /** The proxy's own port on 127.0.0.1. */
  port: number
  /** `http://127.0.0.1:<port>/` */
  url: string
  /** Current delay per chunk, in ms (read at the moment each chunk arrives). */
  readonly delayMs: number
  setDelay: (ms: number) => void
  /** Connections accepted so far. */
  readonly connections: number
  /** Chunks that were held back by a non-zero delay. */
  readonly delayedChunks: number
  close: () => Promise<void>
}

/** Holds each chunk for the delay current when it arrived; a zero delay passes it straight on. */
class DelayStream extends Transform {
  readonly #delay: () => number
  readonly #onDelayed: () => void
  #timer: NodeJS.Timeout | undefined

  constructor (delay: () => number, onDelayed: () => void) {
    super()
    this.#delay = delay
    this.#onDelayed = onDelayed
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
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

  override _destroy (error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer)
    callback(error)
  }
}

export async function startFaultProxy (t: TestContext | undefined, options: FaultProxyOptions): Promise<FaultProxy> {
  const host = options.host ?? '127.0.0.1'
  let delayMs = options.delayMs ?? 0
  let connections = 0
  let delayedChunks = 0
  const sockets = new Set<Socket>()
  const currentDelay = (): number => delayMs
  const countDelayed = (): void => { delayedChunks++ }

  function track (socket: Socket): void {
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
    const end = (): void => {
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

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve() })
  })
  const address = server.address()
  /* c8 ignore next 2 -- listen() on a TCP host always yields an AddressInfo; this narrows the type */
  if (address === null || typeof address === 'string') throw new Error('no TCP address')

  let closed: Promise<void> | undefined
  const proxy: FaultProxy = {
    port: address.port,
    url: `http://127.0.0.1:${address.port}/`,
    get delayMs () { return delayMs },
    setDelay (ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a finite number >= 0; received ${ms}`)
      delayMs = ms
    },
    get connections () { return connections },
    get delayedChunks () { return delayedChunks },
    close () {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => { resolve() })
        for (const socket of sockets) socket.destroy()
      })
      return closed
    }
  }
  t?.teardown(proxy.close)
  return proxy
}
