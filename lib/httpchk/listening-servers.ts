/**
 * Servers that start to listen with a given `request` handler, told before they bind: so that a
 * server Fastify creates at `listen()` gets the front door before it accepts a connection.
 *
 * Why: `app.listen({ host: 'localhost' })` binds one more server for each further address the name
 * resolves to (127.0.0.1 and ::1 with Debian's default hosts file): Fastify 5 creates it after the
 * main server listens, with the same handler (`fastify.routing`), and keeps it in a private symbol
 * (fastify/lib/server.js, `multipleBindings`). No Fastify hook runs between its creation and its
 * first connection (`onListen` runs after it listens), and no public API hands it out.
 *
 * How: Node's `net.server.listen` tracing channel (node:diagnostics_channel, Node 20.16 and later),
 * which `net.Server.prototype.listen()` publishes to with the server before setting up its port;
 * node:http, node:https and node:http2 servers all listen through it. A server whose `request`
 * listeners include a watched handler is reported to that handler's watcher. One subscription for
 * the process, while anyone watches; the handlers are held weakly.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { EventEmitter } from 'node:events'

const LISTEN_START = 'tracing:net.server.listen:asyncStart'

type Watcher = (server: EventEmitter) => void

const watchers = new WeakMap<object, Watcher>()
let watching = 0

function onListenStart (message: unknown): void {
  const { server } = message as { server: EventEmitter }
  for (const listener of server.listeners('request')) watchers.get(listener)?.(server)
}

/** Calls `watcher` with each server that starts to listen with `handler` among its `request`
 * listeners, before it binds. Returns the function that stops watching. */
export function watchServersListening (handler: object, watcher: Watcher): () => void {
  if (watching++ === 0) subscribe(LISTEN_START, onListenStart)
  watchers.set(handler, watcher)
  let stopped = false
  return function stop () {
    if (stopped) return
    stopped = true
    if (watchers.get(handler) === watcher) watchers.delete(handler)
    if (--watching === 0) unsubscribe(LISTEN_START, onListenStart)
  }
}
