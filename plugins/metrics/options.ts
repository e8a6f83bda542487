/**
 * Options of the metrics plugin. Validated once, when the plugin registers; each error is
 * `FST_BACKPRESSURE_INVALID_OPTION` naming `metrics.<option>` and the value received.
 *
 * | option            | default                         | notes                                                         |
 * |-------------------|---------------------------------|---------------------------------------------------------------|
 * | prefix            | `'backpressure_'`               | prepended to every metric name; `''` or a Prometheus name     |
 * | registry          | a new prom-client `Registry`    | pass prom-client's `register` to share the global registry    |
 * | exposeRoute       | `false`                         | a path (`'/metrics'`) adds `GET` (and `HEAD`) serving the text |
 * | queueWaitBuckets  | 0.001 … 10 (12 buckets, seconds) | ascending, positive, finite upper bounds of the wait histogram |
 * | graphite          | `false`                         | an object turns on the Graphite push (table below)            |
 *
 * `graphite`:
 *
 * | option         | default          | notes                                                            |
 * |----------------|------------------|------------------------------------------------------------------|
 * | host           | `'127.0.0.1'`    | carbon's host                                                    |
 * | port           | `2003`           | carbon's plaintext port                                          |
 * | prefix         | `'backpressure'` | dot-separated path prepended to every figure                     |
 * | intervalMs     | `10000`          | push period; carbon's usual finest retention is 10 s             |
 * | reconnectMinMs | `500`            | first reconnect delay; doubles per failed attempt, with jitter   |
 * | reconnectMaxMs | `30000`          | largest reconnect delay                                          |
 */
import type { Registry } from 'prom-client'
import { InvalidOptionError, describeValue } from '../../lib/errors.js'
import { DEFAULT_QUEUE_WAIT_BUCKETS } from '../../lib/pool-metrics.js'
import { numberOption, objectOption, rejectUnknownKeys, stringOption } from '../../lib/validate.js'

export interface GraphiteOptions {
  /** carbon's host. Default `'127.0.0.1'`. */
  host?: string
  /** carbon's plaintext-protocol port. Default 2003. */
  port?: number
  /** Dot-separated path prepended to every figure, e.g. `'myapp.web1'`. Default `'backpressure'`. */
  prefix?: string
  /** Push period in ms. Default 10000. */
  intervalMs?: number
  /** First reconnect delay in ms (doubles per failed attempt, with jitter). Default 500. */
  reconnectMinMs?: number
  /** Largest reconnect delay in ms. Default 30000. */
  reconnectMaxMs?: number
}

export interface MetricsPluginOptions {
  /** Prepended to every metric name. Default `'backpressure_'`. */
  prefix?: string
  /** Where to register the metrics. Default: a new prom-client Registry for this app. */
  registry?: Registry
  /** A path such as `'/metrics'` adds a GET route serving the registry's text; `false` (default) adds none. */
  exposeRoute?: string | false
  /** Upper bounds, in seconds, of the queue-wait histogram's buckets. Default 0.001 … 10. */
  queueWaitBuckets?: readonly number[]
  /** Push the same figures to Graphite. Default `false`. */
  graphite?: GraphiteOptions | false
}

export interface NormalizedGraphiteOptions {
  host: string
  port: number
  prefix: string
  intervalMs: number
  reconnectMinMs: number
  reconnectMaxMs: number
}

export interface NormalizedMetricsOptions {
  prefix: string
  registry: Registry | undefined
  exposeRoute: string | false
  queueWaitBuckets: readonly number[]
  graphite: NormalizedGraphiteOptions | false
}

export const DEFAULT_METRICS_PREFIX = 'backpressure_'
export const DEFAULT_GRAPHITE_OPTIONS: Readonly<NormalizedGraphiteOptions> = Object.freeze({
  host: '127.0.0.1',
  port: 2003,
  prefix: 'backpressure',
  intervalMs: 10000,
  reconnectMinMs: 500,
  reconnectMaxMs: 30000
})

const KNOWN_KEYS: ReadonlySet<string> = new Set(['prefix', 'registry', 'exposeRoute', 'queueWaitBuckets', 'graphite'])
const GRAPHITE_KEYS: ReadonlySet<string> = new Set(Object.keys(DEFAULT_GRAPHITE_OPTIONS))
// A metric name is [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus data model); the prefix is its start.
const PROMETHEUS_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
// Graphite path nodes: dots separate them, so a node holds none, nor spaces (the plaintext protocol
// splits a line on spaces).
const GRAPHITE_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/
// A static route path: starts with '/', and no ':' or '*' (find-my-way would read them as parameters).
const ROUTE_PATH = /^\/[^\s:*?#]*$/
const INTERVAL_MAX = 2 ** 31 - 1

function normalizePrefix (value: unknown): string {
  if (value === undefined) return DEFAULT_METRICS_PREFIX
  if (value === '') return ''
  return stringOption('metrics.prefix', value, DEFAULT_METRICS_PREFIX, {
    test: PROMETHEUS_PREFIX,
    describe: "'' or a Prometheus metric name prefix matching [a-zA-Z_:][a-zA-Z0-9_:]*"
  })
}

function normalizeRegistry (value: unknown): Registry | undefined {
  if (value === undefined) return undefined
  // Duck-typed rather than instanceof: fastify-metrics and others may bring their own copy of
  // prom-client, whose Registry is a different class with the same shape.
  const candidate = value as Partial<Record<keyof Registry, unknown>> | null
  if (candidate === null || typeof candidate !== 'object' ||
      typeof candidate.registerMetric !== 'function' || typeof candidate.getSingleMetric !== 'function' ||
      typeof candidate.removeSingleMetric !== 'function' || typeof candidate.metrics !== 'function') {
    throw new InvalidOptionError('metrics.registry', 'a prom-client Registry', describeValue(value))
  }
  return value as Registry
}

function normalizeExposeRoute (value: unknown): string | false {
  if (value === undefined || value === false) return false
  if (typeof value !== 'string' || !ROUTE_PATH.test(value)) {
    throw new InvalidOptionError('metrics.exposeRoute', "false or a static route path starting with '/'", describeValue(value))
  }
  return value
}

function normalizeBuckets (value: unknown): readonly number[] {
  if (value === undefined) return DEFAULT_QUEUE_WAIT_BUCKETS
  const valid = Array.isArray(value) && value.length > 0 &&
    value.every((bound, index) => typeof bound === 'number' && Number.isFinite(bound) && bound > 0 &&
      (index === 0 || bound > (value[index - 1] as number)))
  if (!valid) {
    throw new InvalidOptionError('metrics.queueWaitBuckets', 'a non-empty array of finite positive numbers in ascending order (seconds)', describeValue(value))
  }
  return Object.freeze([...(value as number[])])
}

function normalizeGraphite (value: unknown): NormalizedGraphiteOptions | false {
  if (value === undefined || value === false) return false
  const options = objectOption('metrics.graphite', value)
  rejectUnknownKeys('metrics.graphite', options, GRAPHITE_KEYS)
  const defaults = DEFAULT_GRAPHITE_OPTIONS
  const reconnectMinMs = numberOption('metrics.graphite.reconnectMinMs', options.reconnectMinMs, defaults.reconnectMinMs, { integer: true, min: 1, max: INTERVAL_MAX })
  const reconnectMaxMs = numberOption('metrics.graphite.reconnectMaxMs', options.reconnectMaxMs, defaults.reconnectMaxMs, { integer: true, min: 1, max: INTERVAL_MAX })
  if (reconnectMaxMs < reconnectMinMs) {
    throw new InvalidOptionError('metrics.graphite.reconnectMaxMs', `an integer >= metrics.graphite.reconnectMinMs (${reconnectMinMs})`, describeValue(reconnectMaxMs))
  }
  return {
    host: stringOption('metrics.graphite.host', options.host, defaults.host),
    port: numberOption('metrics.graphite.port', options.port, defaults.port, { integer: true, min: 1, max: 65535 }),
    prefix: stringOption('metrics.graphite.prefix', options.prefix, defaults.prefix, {
      test: GRAPHITE_PATH,
      describe: 'a dot-separated Graphite path of [A-Za-z0-9_-] nodes'
    }),
    intervalMs: numberOption('metrics.graphite.intervalMs', options.intervalMs, defaults.intervalMs, { integer: true, min: 1, max: INTERVAL_MAX }),
    reconnectMinMs,
    reconnectMaxMs
  }
}

export function normalizeMetricsOptions (raw: unknown): NormalizedMetricsOptions {
  const options = objectOption('metrics', raw)
  rejectUnknownKeys('metrics', options, KNOWN_KEYS)
  return {
    prefix: normalizePrefix(options.prefix),
    registry: normalizeRegistry(options.registry),
    exposeRoute: normalizeExposeRoute(options.exposeRoute),
    queueWaitBuckets: normalizeBuckets(options.queueWaitBuckets),
    graphite: normalizeGraphite(options.graphite)
  }
}
