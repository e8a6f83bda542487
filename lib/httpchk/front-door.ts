/**
 * The server's front door: every request the server hands out passes here first, so a probe is
 * answered before Fastify routes it, builds a request and reply, logs it, or runs any hook of any
 * context, and before any other `request` listener sees it.
 *
 * How: the door wraps the server's `emit`. Node's HTTP servers (node:http, node:https, and
 * node:http2's compatibility API) hand each request to `server.emit('request', request, response)`,
 * whichever listeners there are and whenever they were added. A door that was itself a `request`
 * listener could not do this: EventEmitter calls every listener in turn, so a listener added after
 * the door (an APM agent, a test, the app's own) would still see a request the door had answered.
 * Every other event, and every request the door does not answer, goes on to the `emit` it wraps,
 * unchanged. The server's listeners are not touched, which also covers a `serverFactory` server
 * whatever its listeners look like.
 *
 * One door per server (the plugin answers for the whole server, whichever context registered it).
 * `uninstall()` removes the wrapper; if something wrapped `emit` again after the door, the door
 * stays in that chain but lets everything through.
 */
import type { EventEmitter } from 'node:events'

/** Returns true when it has answered the request itself. */
export type FrontDoorHandler = (request: unknown, response: unknown) => boolean

type Emit = (this: EventEmitter, event: string | symbol, ...args: unknown[]) => boolean

const installed = new WeakSet<EventEmitter>()

/**
 * Installs `handler` in front of everything `server` emits as `request`. Returns the function that
 * removes it, or undefined when a door is already installed on this server.
 */
export function installFrontDoor (server: EventEmitter, handler: FrontDoorHandler): (() => void) | undefined {
  if (installed.has(server)) return undefined
  installed.add(server)
  // An `emit` of the server's own (someone wrapped it before us) is kept; otherwise the prototype's
  // is looked up at each call, so a wrapper installed on the prototype later still runs.
  const own = Object.hasOwn(server, 'emit') ? server.emit as Emit : undefined
  const prototype = Object.getPrototypeOf(server) as { emit: Emit }
  let active = true
  function emit (this: EventEmitter, event: string | symbol, request?: unknown, response?: unknown): boolean {
    if (event === 'request' && active && handler(request, response)) return true
    // `arguments`: every argument, however many the event has, without copying them into an array.

    return (own ?? prototype.emit).apply(this, arguments as unknown as [event: string | symbol, ...args: unknown[]])
  }
  server.emit = emit
  return function uninstall () {
    active = false
    installed.delete(server)
    if (server.emit !== emit) return
    if (own === undefined) Reflect.deleteProperty(server, 'emit')
    else server.emit = own
  }
}
