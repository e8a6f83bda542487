/**
 * The server's front door: a probe is answered before Fastify routes it, builds a request, logs it
 * or runs any hook, and before any other `request` listener sees it. It wraps the server's `emit`
 * rather than listening to 'request': EventEmitter calls every listener, so one added after the
 * door (an APM agent, the app's own) would still see an answered request. Every other event and
 * request goes to the wrapped `emit` unchanged, and the server's listeners are never touched.
 * One door per server. If something wrapped `emit` after the door, `uninstall()` leaves the door in
 * that chain, letting everything through.
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
