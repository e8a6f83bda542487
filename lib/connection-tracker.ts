/**
 * Every connection a server holds, so that a shutdown always ends.
 *
 * Node's `server.close()` (which Fastify calls) stops accepting and closes the connections that are
 * idle between two requests, but not one that was opened and never used (a browser's preconnect,
 * a TCP check): `close()` then waits for it forever (measured on Node 20 / Fastify 5.12: a bare
 * connected socket holds `app.close()` indefinitely). A keep-alive connection that was busy when
 * `close()` started and goes idle later is not closed either, until `keepAliveTimeout`.
 * HTTP/2 sessions only stop on GOAWAY.
 *
 * So the tracker keeps: every socket (for the deadline), the sockets that never carried a byte of
 * a request, and the HTTP/2 sessions.
 * - `closeIdle()`: GOAWAY to every HTTP/2 session, destroy never-used sockets (seen unused by two
 *   calls in a row), and Node's own `closeIdleConnections()`. Called when the app closes, then
 *   again every so often until it is closed.
 * - `destroyAll()`: the deadline; whatever is left is destroyed.
 */
import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Http2Session } from 'node:http2'

interface TrackedServer extends EventEmitter {
  closeIdleConnections?: () => void
}

export class ConnectionTracker {
  readonly #servers = new Set<TrackedServer>()
  readonly #sockets = new Set<Socket>()
  /** Sockets HTTP is read from that have not carried a request yet. */
  readonly #unused = new Set<Socket>()
  /** Unused sockets seen by the last `closeIdle()`: closed if still unused at the next one. */
  readonly #suspects = new Set<Socket>()
  readonly #sessions = new Set<Http2Session>()
  /** Where HTTP/1 is parsed from: the TCP socket ('connection'), the TLS one ('secureConnection'),
   * or neither (HTTP/2: each connection is a session, tracked as such). */
  readonly #httpSockets: 'connection' | 'secureConnection' | undefined
  /** One listener for every socket's 'close' (called with the socket as `this`): no closure and no
   * `once` wrapper per connection, since the tracker runs on every connection the server accepts. */
  readonly #onSocketClose: (this: Socket) => void

  constructor (options: { tls: boolean, http2: boolean }) {
    this.#httpSockets = options.http2 ? undefined : options.tls ? 'secureConnection' : 'connection'
    const tracker = this
    this.#onSocketClose = function onSocketClose (this: Socket) { tracker.#forget(this) }
  }

  /** Tracks `server`'s connections too (the app's servers share one tracker: one deadline). */
  track (server: TrackedServer): void {
    this.#servers.add(server)
    server.on('connection', this.#onConnection)
    if (this.#httpSockets === 'secureConnection') server.on('secureConnection', this.#onHttpSocket)
    server.on('session', this.#onSession)
  }

  /** Open connections (TCP sockets). */
  get size (): number {
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
   * (Node's own `closeIdleConnections()`), and sockets that have carried no request since the
   * previous call. That second look spares a connection whose first request is still being read.
   */
  closeIdle (): void {
    this.closeSessions()
    for (const socket of this.#unused) {
      if (this.#suspects.has(socket)) socket.destroy()
      else this.#suspects.add(socket)
    }
    for (const server of this.#servers) server.closeIdleConnections?.()
  }

  /** Destroys every connection left. */
  destroyAll (): void {
    for (const session of this.#sessions) session.destroy()
    for (const socket of this.#sockets) socket.destroy()
  }

  /** Stops tracking (the servers are closed). */
  dispose (): void {
    for (const server of this.#servers) {
      server.removeListener('connection', this.#onConnection)
      server.removeListener('secureConnection', this.#onHttpSocket)
      server.removeListener('session', this.#onSession)
    }
    this.#servers.clear()
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#sockets.add(socket)
    socket.on('close', this.#onSocketClose)
    if (this.#httpSockets === 'connection') this.#unused.add(socket)
  }

  /** The socket carried a request: it is no longer "never used". Called by the front door for
   * every HTTP/1 request (a `Set.delete`): Node's HTTP parser reads a plain socket in C++, so no
   * 'data' event would tell us. */
  markUsed (socket: unknown): void {
    this.#unused.delete(socket as Socket)
  }

  readonly #onHttpSocket = (socket: Socket): void => {
    this.#unused.add(socket)
    socket.on('close', this.#onSocketClose)
  }

  #forget (socket: Socket): void {
    this.#sockets.delete(socket)
    this.#unused.delete(socket)
    this.#suspects.delete(socket)
  }

  readonly #onSession = (session: Http2Session): void => {
    this.#sessions.add(session)
    session.once('close', () => { this.#sessions.delete(session) })
  }
}
