/**
 * A task submitted on behalf of a request (`request.runInPool()`, `request.runInLane()`): it runs at
 * its route's priority unless it sets one, and stops when the client hangs up.
 *
 * The route's priority is its `config.backpressure.priority`. The plugins check it in an `onRoute`
 * hook; a route declared before the plugin gets no `onRoute`, so it is checked on its first task
 * instead. Each `backpressure` object is checked once and remembered by identity, which holds because
 * Fastify copies a route's `config` shallowly: `onRoute` and requests see one object.
 *
 * The client's signal fires when its connection closes or the caller's own signal fires. One 'close'
 * listener per socket, however many requests it carries: one per request would trip Node's
 * `MaxListenersExceededWarning` on a keep-alive socket with many pipelined requests. Not
 * `request.signal`: Fastify's listens to `request.raw` 'close', which Node emits as soon as the body
 * has been read, so it would abort every POST with a body at once (fastify/fastify-piscina#8).
 */
import type { Socket } from 'node:net'
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../options.js'
import { checkPriority, type PriorityOption } from './options.js'

const KEYS: ReadonlySet<string> = new Set(['priority'])

/** Checked `backpressure` objects: their priority, or null for none. */
const checked = new WeakMap<object, number | null>()

/** Checks a route's `config.backpressure` (route: how errors name it, e.g. `GET /critical`) and
 * returns its priority, if it sets one. Throws `FST_BACKPRESSURE_INVALID_OPTION` naming the option,
 * the route and the value. */
export function checkRouteConfig (config: unknown, route: string): number | undefined {
  const backpressure = (config as { backpressure?: unknown } | null | undefined)?.backpressure
  if (backpressure === undefined) return undefined
  const known = typeof backpressure === 'object' && backpressure !== null ? checked.get(backpressure) : undefined
  if (known !== undefined) return known ?? undefined
  const where = ` (route ${route})`
  if (typeof backpressure !== 'object' || backpressure === null || Array.isArray(backpressure)) {
    throw new InvalidOptionError(`config.backpressure${where}`, 'an object ({ priority })', describeValue(backpressure))
  }
  const options = backpressure as Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) throw new InvalidOptionError(`config.backpressure.${key}${where}`, `a known option (${[...KEYS].join(', ')})`, describeValue(options[key]))
  }
  const priority = options.priority === undefined ? undefined : checkPriority(`config.backpressure.priority${where}`, options.priority)
  checked.set(backpressure, priority ?? null)
  return priority
}

/** The options of a task a route submits: `options` as given when they set a priority, else with
 * the route's default priority, if it has one. `config` is the route's (`request.routeOptions.config`,
 * which carries its `method` and `url`). Throws like `checkRouteConfig`. */
export function withRoutePriority<Options extends PriorityOption> (options: Options | undefined, config: unknown): Options | undefined {
  if (options?.priority !== undefined) return options
  const route = config as { backpressure?: unknown, method?: unknown, url?: unknown } | undefined
  if (route?.backpressure === undefined) return options
  const priority = checkRouteConfig(route, `${String(route.method)} ${String(route.url)}`)
  return priority === undefined ? options : { ...options, priority } as Options
}

const watched = new WeakMap<Socket, Set<AbortController>>()

export interface ClientGone {
  readonly signal: AbortSignal
  /** Stops watching (call once the task has settled). */
  release: () => void
}

export function watchClient (socket: Socket, callerSignal: AbortSignal | undefined): ClientGone {
  const controller = new AbortController()
  const onCallerAbort = (): void => { controller.abort(callerSignal?.reason) }
  if (callerSignal?.aborted === true) onCallerAbort()
  else callerSignal?.addEventListener('abort', onCallerAbort, { once: true })
  if (socket.destroyed) {
    controller.abort(new Error('client disconnected'))
  } else {
    let set = watched.get(socket)
    if (set === undefined) {
      const tasks = new Set<AbortController>()
      set = tasks
      watched.set(socket, tasks)
      socket.once('close', function onClientGone () {
        watched.delete(socket)
        for (const task of tasks) task.abort(new Error('client disconnected'))
      })
    }
    set.add(controller)
  }
  const release = (): void => {
    callerSignal?.removeEventListener('abort', onCallerAbort)
    watched.get(socket)?.delete(controller)
  }
  return { signal: controller.signal, release }
}

/**
 * `run({ ...options, signal })` with the signal of `watchClient`, released when the call settles.
 * A `signal` that is not an AbortSignal is passed through untouched, so that `run()` refuses it
 * with its coded error (lib/executor/options.ts) instead of this helper throwing a TypeError.
 */
function runWhileClientStays<Options extends { signal?: AbortSignal | undefined }, Result> (
  socket: Socket, options: Options | undefined, run: (options: Options) => Promise<Result>
): Promise<Result> {
  const callerSignal: unknown = options?.signal
  if (callerSignal !== undefined && !(callerSignal instanceof AbortSignal)) return run(options as Options)
  const { signal, release } = watchClient(socket, callerSignal as AbortSignal | undefined)
  return run({ ...options, signal } as Options).finally(release)
}

/** What `request.runInPool()` and `request.runInLane()` do: `run` at the route's default priority
 * unless `options` sets one, stopped if the client hangs up. A bad route priority rejects. */
export function runForRequest<Options extends PriorityOption & { signal?: AbortSignal | undefined }, Result> (
  socket: Socket, routeConfig: unknown, options: Options | undefined, run: (options: Options) => Promise<Result>
): Promise<Result> {
  let withPriority: Options | undefined
  try {
    withPriority = withRoutePriority(options, routeConfig)
  } catch (error) {
    return Promise.reject(error)
  }
  return runWhileClientStays(socket, withPriority, run)
}
