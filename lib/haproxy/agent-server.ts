/**
 * A TCP listener for HAProxy's `agent-check` (configuration.txt §5.2 "agent-check"). The line is
 * written and our side ended as soon as a connection opens; what the client sends is discarded, so
 * no input (or none) can change the answer or raise an error. Each socket has an absolute deadline,
 * at most `MAX_AGENT_CONNECTIONS` are held, and `close()` destroys every socket left.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/** Connections held at once; more are refused. HAProxy opens one per check and closes it once it
 * has read the line, so even four balancers probing every 100 ms hold a handful: the bound only
 * keeps a flood from holding file descriptors. */
export const MAX_AGENT_CONNECTIONS = 64

export interface AgentServerOptions {
  host: string
  port: number
  /** Computes the line to send (without line ending). Called once per connection. */
  reply: () => string
  /** Sent instead when `reply` throws, so a fault never leaves HAProxy without an answer. */
  fallback: string
  /** A socket still open after this many ms is destroyed. */
  timeoutMs: number
  /** Told about a `reply` that threw (the connection still gets `fallback`). */
  onReplyError?: (error: unknown) => void
}

export class AgentServer {
  readonly #options: AgentServerOptions
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #port: number | undefined

  constructor (options: AgentServerOptions) {
    this.#options = options
    this.#server = createServer({ allowHalfOpen: false }, (socket) => { this.#answer(socket) })
    this.#server.maxConnections = MAX_AGENT_CONNECTIONS
  }

  /** The bound port, once `listen()` has resolved. */
  get port (): number | undefined {
    return this.#port
  }

  get connections (): number {
    return this.#sockets.size
  }

  listen (): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => { reject(error) }
      this.#server.once('error', onError)
      this.#server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        this.#server.off('error', onError)
        // A TCP server's address is always an AddressInfo once listening.
        this.#port = (this.#server.address() as AddressInfo).port
        resolve(this.#port)
      })
    })
  }

  /** Stops listening and destroys every open socket. */
  close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
    if (!this.#server.listening) return Promise.resolve()
    return new Promise((resolve) => { this.#server.close(() => { resolve() }) })
  }

  #answer (socket: Socket): void {
    this.#sockets.add(socket)
    // An absolute deadline, not socket.setTimeout(): that one is an idle timer, which a client
    // trickling bytes (slowloris) would keep resetting forever.
    const deadline = setTimeout(() => { socket.destroy() }, this.#options.timeoutMs)
    deadline.unref()
    socket.once('close', () => {
      clearTimeout(deadline)
      this.#sockets.delete(socket)
    })
    // A reset or a write after the peer left is the peer's business, never a crash of ours.
    socket.on('error', ignore)
    // Discard whatever HAProxy (`agent-send`) or anyone else writes, without buffering it.
    socket.resume()
    let line: string
    try {
      line = this.#options.reply()
    } catch (error) {
      this.#options.onReplyError?.(error)
      line = this.#options.fallback
    }
    socket.end(`${line}\n`)
  }
}

function ignore (): void {}
