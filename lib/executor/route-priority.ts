/**
 * A route's default priority for `request.runInPool()` and `request.runInLane()`, from its
 * `config.backpressure.priority`; a per-call `priority` overrides it. The plugins check it in an
 * `onRoute` hook; a route declared before the plugin gets no `onRoute`, so it is checked on its
 * first task instead. Each `backpressure` object is checked once and remembered by identity, which
 * holds because Fastify copies a route's `config` shallowly: `onRoute` and requests see one object.
 */
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
