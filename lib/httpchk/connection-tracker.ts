/**
 * Every connection a server holds, so that a shutdown always ends: Node's `server.close()` waits
 * forever for a connection opened and never used (a preconnect, a TCP check), and until
 * `keepAliveTimeout` for one that goes idle after it started; HTTP/2 sessions stop only on GOAWAY.
 * It runs on every accepted connection, health checks included, so per connection it must stay one
 * `Set.add`: no socket listener, nothing per request. Closed sockets leave in a sweep each time the
 * sets have doubled, so few outlive a young-generation GC (which would copy them to the old one).
 */
import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Http2Session } from 'node:http2'

/** The sets are swept when they reach twice their size after the last sweep, and never below this. */
const MIN_SWEEP_AT = 32

interface TrackedServer extends EventEmitter {
  closeIdleConnections?: () => void
}

export class ConnectionTracker {
  readonly #servers = new Set<TrackedServer>()
  /** Every socket accepted (closed ones until the next sweep). */
  readonly #sockets = new Set<Socket>()
  /** HTTPS: the TLS sockets HTTP is read from (a TLS socket counts the bytes it decrypted). */
  readonly #tlsSockets = new Set<Socket>()
  /** Sockets with no request byte at the last `closeIdle()`: destroyed if still so at the next one. */
  readonly #suspects = new Set<Socket>()
  readonly #sessions = new Set<Http2Session>()
  /** Where HTTP/1 is read from: the TCP socket ('connection'), the TLS one ('secureConnection'),
   * or neither (HTTP/2: each connection is a session, tracked as such). */
  readonly #httpSockets: 'connection' | 'secureConnection' | undefined
  #sweepAt = MIN_SWEEP_AT

  constructor (options: { tls: boolean, http2: boolean }) {
    this.#httpSockets = options.http2 ? undefined : options.tls ? 'secureConnection' : 'connection'
  }

  /** Tracks `server`'s connections too (the app's servers share one tracker: one deadline). */
  track (server: TrackedServer): void {
    this.#servers.add(server)
    server.on('connection', this.#onConnection)
    if (this.#httpSockets === 'secureConnection') server.on('secureConnection', this.#onTlsSocket)
    server.on('session', this.#onSession)
  }

  /** Open connections (TCP sockets). */
  get size (): number {
    this.#sweep()
    return this.#sockets.size
  }

  /** Asks every HTTP/2 session to end (GOAWAY: streams in progress finish, no new one starts). */
  closeSessions (): void {
    for (const session of this.#sessions) {
      if (!session.closed) session.close()
    }
  }

  /**
   * Closes what carries no request now: HTTP/2 sessions (gracefully), idle keep-alive connections
   * (Node's own `closeIdleConnections()`), and HTTP/1 sockets that had received no byte of a
   * request (`socket.bytesRead`) at the previous call and still have not: two calls in a row spare
   * a connection whose first request is on its way.
   */
  closeIdle (): void {
    this.closeSessions()
    this.#sweep()
    if (this.#httpSockets !== undefined) {
      for (const socket of this.#httpSockets === 'connection' ? this.#sockets : this.#tlsSockets) {
        if (socket.bytesRead > 0) continue
        if (this.#suspects.has(socket)) socket.destroy()
        else this.#suspects.add(socket)
      }
    }
    for (const server of this.#servers) server.closeIdleConnections?.()
  }

  destroyAll (): void {
    for (const session of this.#sessions) session.destroy()
    for (const socket of this.#sockets) socket.destroy()
  }

  /** Stops tracking (the servers are closed). */
  dispose (): void {
    for (const server of this.#servers) {
      server.removeListener('connection', this.#onConnection)
      server.removeListener('secureConnection', this.#onTlsSocket)
      server.removeListener('session', this.#onSession)
    }
    this.#servers.clear()
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#sockets.add(socket)
    if (this.#sockets.size >= this.#sweepAt) this.#sweep()
  }

  readonly #onTlsSocket = (socket: Socket): void => {
    this.#tlsSockets.add(socket)
  }

  /** Drops closed sockets from the sets; the next sweep comes when they have doubled. */
  #sweep (): void {
    for (const set of [this.#sockets, this.#tlsSockets, this.#suspects]) {
      for (const socket of set) {
        if (socket.destroyed) set.delete(socket)
      }
    }
    this.#sweepAt = Math.max(MIN_SWEEP_AT, 2 * this.#sockets.size)
  }

  readonly #onSession = (session: Http2Session): void => {
    this.#sessions.add(session)
    session.once('close', () => { this.#sessions.delete(session) })
  }
}
