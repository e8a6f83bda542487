/**
 * Reports each server that starts to listen with a watched `request` handler, before it binds, so
 * that a server Fastify creates at `listen()` gets the front door before its first connection.
 * `listen({ host: 'localhost' })` binds one more server per further address the name resolves to,
 * kept in a private symbol (fastify/lib/server.js, `multipleBindings`), with no hook or public API
 * between its creation and its first connection. Node's `tracing:net.server.listen` channel
 * (node:diagnostics_channel, Node ≥ 20.16) is published by every `net.Server` `listen()` before it
 * binds. One subscription for the process while anyone watches; handlers are held weakly.
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
