/**
 * The server's front door: a `request` listener placed in front of the server's own, so a probe is
 * answered before Fastify routes it, builds a request and reply, logs it, or runs any hook of any
 * context. Fastify attaches its handler when it creates the server (`http.createServer(handler)`,
 * `https`, `http2` and `serverFactory` alike), and that one server is shared by every
 * encapsulated context, so whichever context registers the plugin can install the door.
 *
 * The listeners already there are taken off and called, unchanged and in order, for every request
 * the door does not answer itself. `uninstall()` puts them back.
 */
import type { EventEmitter } from 'node:events'

/** Returns true when it has answered the request itself. */
export type FrontDoorHandler = (request: unknown, response: unknown) => boolean

type Listener = (...args: unknown[]) => void

const installed = new WeakSet<EventEmitter>()

/**
 * Installs `handler` in front of `server`'s `request` listeners. Returns the function that removes
 * it, or undefined when a door is already installed on this server.
 */
export function installFrontDoor (server: EventEmitter, handler: FrontDoorHandler): (() => void) | undefined {
  if (installed.has(server)) return undefined
  installed.add(server)
  const inner = server.listeners('request') as Listener[]
  server.removeAllListeners('request')
  // One listener is the common case (Fastify's own): call it directly.
  const only = inner.length === 1 ? inner[0] as Listener : undefined
  function frontDoor (this: EventEmitter, request: unknown, response: unknown): void {
    if (handler(request, response)) return
    if (only !== undefined) {
      only.call(this, request, response)
      return
    }
    for (const listener of inner) listener.call(this, request, response)
  }
  server.on('request', frontDoor)
  return function uninstall () {
    server.removeListener('request', frontDoor)
    for (const listener of inner) server.on('request', listener)
    installed.delete(server)
  }
}
