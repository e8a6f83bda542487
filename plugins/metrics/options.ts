/**
 * Options of the metrics plugin. Validated once, when the plugin registers; each error is
 * `FST_BACKPRESSURE_INVALID_OPTION` naming `metrics.<option>` and the value received. Each option
 * is documented once, below (docs/options.md is generated from these declarations).
 */
import type { Registry } from 'prom-client'
import { InvalidOptionError } from '../../lib/errors.js'
import { DEFAULT_QUEUE_WAIT_BUCKETS } from '../../lib/metrics/executor-metrics.js'
import { describeValue, durationOption, featureOption, numberOption, objectOption, rejectUnknownKeys, stringOption } from '../../lib/options.js'

export interface MetricsGraphiteOptions {
  /** carbon's host.
   * @default '127.0.0.1' */
  host?: string
  /** carbon's plaintext-protocol port.
   * @default 2003 */
  port?: number
  /** Dot-separated path prepended to every figure, e.g. `'myapp.web1'`.
   * @default 'backpressure' */
  prefix?: string
  /** Push period (carbon's usual finest retention is 10 s). A lost connection is re-opened after
   * 0.5 s, doubling up to 30 s, with jitter.
   * @default 10000
   * @unit ms */
  interval?: number
}

export interface MetricsPluginOptions {
  /** Prepended to every metric name: `''` or the start of a Prometheus name.
   * @default 'backpressure_' */
  prefix?: string
  /** The prom-client registry to register into; pass prom-client's `register` to share the global one.
   * @default a new Registry per app */
  registry?: Registry
  /** A path such as `'/metrics'` adds a GET (and HEAD) route serving the registry's text.
   * @default false */
  exposeRoute?: string | false
  /** Upper bounds of the queue-wait histograms' buckets, ascending. Seconds, Prometheus's base unit.
   * @default [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   * @unit seconds */
  queueWaitBuckets?: readonly number[]
  /** Push the same figures to Graphite: an object turns it on.
   * @default false */
  graphite?: MetricsGraphiteOptions | false
}

/** The options once checked, for the plugin's own use: here, and only here, a duration's name
 * carries its unit (`…Ms`). */
export interface NormalizedGraphiteOptions {
  host: string
  port: number
  prefix: string
  intervalMs: number
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
  intervalMs: 10000
})

const KNOWN_KEYS: readonly string[] = ['prefix', 'registry', 'exposeRoute', 'queueWaitBuckets', 'graphite']
const GRAPHITE_KEYS: readonly string[] = ['host', 'port', 'prefix', 'interval']
// A metric name is [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus data model); the prefix is its start.
const PROMETHEUS_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
// Graphite path nodes: dots separate them, so a node holds none, nor spaces (the plaintext protocol
// splits a line on spaces).
const GRAPHITE_PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/
// A static route path: starts with '/', and no ':' or '*' (find-my-way would read them as parameters).
const ROUTE_PATH = /^\/[^\s:*?#]*$/

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
  const options = featureOption('metrics.graphite', value)
  if (options === undefined) return false
  rejectUnknownKeys('metrics.graphite', options, GRAPHITE_KEYS)
  const defaults = DEFAULT_GRAPHITE_OPTIONS
  return {
    host: stringOption('metrics.graphite.host', options.host, defaults.host),
    port: numberOption('metrics.graphite.port', options.port, defaults.port, { integer: true, min: 1, max: 65535 }),
    prefix: stringOption('metrics.graphite.prefix', options.prefix, defaults.prefix, {
      test: GRAPHITE_PATH,
      describe: 'a dot-separated Graphite path of [A-Za-z0-9_-] nodes'
    }),
    intervalMs: durationOption('metrics.graphite.interval', options.interval, defaults.intervalMs, { integer: true, min: 1 })
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
