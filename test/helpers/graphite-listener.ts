// A real carbon stand-in: a TCP server on 127.0.0.1 that splits what it receives into plaintext
// protocol lines. Tests wait on its events (lines, connections, disconnections), never on sleeps.
// It can go away (every connection destroyed, server closed) and come back on the same port.
import { EventEmitter, once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'

export interface ReceivedLine { path: string, value: number, timestamp: number, raw: string, connection: number }

export class GraphiteListener extends EventEmitter {
  port = 0
  readonly lines: ReceivedLine[] = []
  #server: Server | null = null
  readonly #sockets = new Set<Socket>()
  #connections = 0
  readonly #closed = new Set<number>()

  /** Connections accepted so far. */
  get connections (): number { return this.#connections }

  /** Starts listening on 127.0.0.1: on a free port the first time, on the same port after `stop()`. */
  async start (): Promise<void> {
    const server = createServer((socket) => { this.#accept(socket) })
    this.#server = server
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as { port: number }).port
  }

  /** Goes away: destroys every open connection and stops listening. */
  async stop (): Promise<void> {
    const server = this.#server
    if (server === null) return
    this.#server = null
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }

  /** Stops reading from every open connection, so the sender's buffers fill (TCP backpressure). */
  pause (): void {
    for (const socket of this.#sockets) socket.pause()
  }

  /** Reads again from every open connection. */
  resume (): void {
    for (const socket of this.#sockets) socket.resume()
  }

  /**
   * Resolves with the first line matching `predicate`: among those already received from index
   * `since` on (default 0: all of them), else the next to arrive. Pass `listener.lines.length` to
   * consider only lines still to come.
   */
  async waitForLine (predicate: (line: ReceivedLine) => boolean, { since = 0, timeoutMs = 10000 } = {}): Promise<ReceivedLine> {
    const seen = this.lines.slice(since).find(predicate)
    if (seen !== undefined) return seen
    return await this.#waitFor('line', predicate, timeoutMs)
  }

  /** Resolves when a connection numbered `number` (1-based) has been accepted. */
  async waitForConnection (number: number, timeoutMs = 10000): Promise<void> {
    if (this.#connections >= number) return
    await this.#waitFor('connection', (n) => n >= number, timeoutMs)
  }

  /** Resolves when connection `number` has closed. */
  async waitForDisconnect (number: number, timeoutMs = 10000): Promise<void> {
    if (this.#closed.has(number)) return
    await this.#waitFor('disconnect', (n) => n === number, timeoutMs)
  }

  #accept (socket: Socket): void {
    const connection = ++this.#connections
    this.#sockets.add(socket)
    let pending = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      pending += chunk
      let newline = pending.indexOf('\n')
      while (newline !== -1) {
        const raw = pending.slice(0, newline)
        pending = pending.slice(newline + 1)
        const [path = '', value = '', timestamp = ''] = raw.split(' ')
        const line = { path, value: Number(value), timestamp: Number(timestamp), raw, connection }
        this.lines.push(line)
        this.emit('line', line)
        newline = pending.indexOf('\n')
      }
    })
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(socket)
      this.#closed.add(connection)
      this.emit('disconnect', connection)
    })
    this.emit('connection', connection)
  }

  async #waitFor<E extends 'line' | 'connection' | 'disconnect'> (event: E, predicate: (value: any) => boolean, timeoutMs: number): Promise<any> {
    return await new Promise((resolve, reject) => {
      const onEvent = (value: unknown): void => {
        if (!predicate(value)) return
        clearTimeout(timer)
        this.off(event, onEvent)
        resolve(value)
      }
      // A safety net so a broken pusher fails the test instead of hanging it; not a synchronisation.
      const timer = setTimeout(() => {
        this.off(event, onEvent)
        reject(new Error(`no matching ${event} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.on(event, onEvent)
    })
  }
}

/** Starts a listener and stops it when the test ends. */
export async function startGraphiteListener (teardown: (fn: () => Promise<void>) => void): Promise<GraphiteListener> {
  const listener = new GraphiteListener()
  await listener.start()
  teardown(async () => { await listener.stop() })
  return listener
}
