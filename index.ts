/**
 * fastify-backpressure: registers the pool, lanes, httpchk and metrics plugins, in that order
 * (httpchk and metrics read the executors). Each section must stay exactly the options of its
 * plugin registered alone, checked by the same normaliser.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { featureOption, objectOption, rejectUnknownKeys } from './lib/options.js'
import poolPlugin, { type PoolPluginOptions } from './plugins/pool/index.js'
import lanesPlugin, { type LaneOptions } from './plugins/lanes/index.js'
import httpchkPlugin, { type HttpchkPluginOptions } from './plugins/httpchk/index.js'
import metricsPlugin, { type MetricsPluginOptions } from './plugins/metrics/index.js'
import { normalizePoolOptions } from './plugins/pool/options.js'
import { normalizeLanes } from './plugins/lanes/options.js'
import { normalizeHttpchkOptions } from './plugins/httpchk/options.js'
import { normalizeMetricsOptions } from './plugins/metrics/options.js'

export interface BackpressureOptions {
  /** The worker pool (the pool plugin's options; `filename` is required), or `false` for an app
   * without worker threads.
   * @default false */
  pool?: PoolPluginOptions | false
  /** The lanes, by name: `{ upstream: { concurrency: 16, maxQueue: 64, timeout: 2000 } }` (the lanes
   * plugin's `lanes`), or `false` for none.
   * @default false */
  lanes?: Record<string, LaneOptions> | false
  /** The httpchk plugin's options, or `false` to leave the probe out.
   * @default {} */
  httpchk?: HttpchkPluginOptions | false
  /** The metrics plugin's options, or `false` to leave metrics out.
   * @default {} */
  metrics?: MetricsPluginOptions | false
}

const KNOWN_KEYS: readonly string[] = ['pool', 'lanes', 'httpchk', 'metrics']

async function backpressure (fastify: FastifyInstance, rawOptions: BackpressureOptions): Promise<void> {
  const options = objectOption('options', rawOptions)
  rejectUnknownKeys('', options, KNOWN_KEYS)
  // `pool: null` is refused here: Fastify would turn it into `{}` and the error would blame pool.filename.
  const pool = featureOption('pool', options.pool, 'false or an object with at least "filename"')
  const lanes = featureOption('lanes', options.lanes, 'false or the lanes by name ({ <name>: { concurrency } })')
  const httpchk = options.httpchk === false ? undefined : objectOption('httpchk', options.httpchk)
  const metrics = options.metrics === false ? undefined : objectOption('metrics', options.metrics)
  // Every section is checked before any plugin starts anything (threads, a listener): a typo in
  // `metrics` must not leave a pool running. Each plugin checks its own again, with the same code.
  if (pool !== undefined) normalizePoolOptions(pool)
  if (lanes !== undefined) normalizeLanes(lanes)
  if (httpchk !== undefined) normalizeHttpchkOptions(httpchk)
  if (metrics !== undefined) normalizeMetricsOptions(metrics)

  if (pool !== undefined) await fastify.register(poolPlugin, pool as unknown as PoolPluginOptions)
  if (lanes !== undefined) await fastify.register(lanesPlugin, { lanes: lanes as Record<string, LaneOptions> })
  if (httpchk !== undefined) await fastify.register(httpchkPlugin, httpchk)
  // With neither an executor nor the probe, the metrics plugin refuses at ready() (nothing to measure).
  if (metrics !== undefined) await fastify.register(metricsPlugin, metrics)
}

const plugin = fp(backpressure, { fastify: '5.x', name: 'fastify-backpressure' })

export default plugin
export { plugin as backpressure, poolPlugin, lanesPlugin, httpchkPlugin, metricsPlugin }
export * as errors from './lib/errors.js'
export { isRetryableError, RETRYABLE_ERROR_CODES, type RetryableError } from './lib/executor/retry.js'

export type { PoolPluginOptions } from './plugins/pool/index.js'
export type { LanesPluginOptions, LaneOptions, AdaptiveConcurrencyOptions } from './plugins/lanes/index.js'
export type { HttpchkPluginOptions, HttpchkAgentOptions, HttpchkDrainOptions } from './plugins/httpchk/index.js'
export type { MetricsPluginOptions, MetricsGraphiteOptions } from './plugins/metrics/index.js'
export type { AdmissionOptions, DwellOptions } from './lib/executor/options.js'

// What the decorators return; the classes are types only (an app gets them from the plugins).
export type { BackpressurePool, PoolRunOptions, PoolEvents, PoolSnapshot, PoolStats } from './lib/pool/pool.js'
export type { Lane, LaneRunOptions, LaneEvents, LaneSnapshot, LaneStats, LaneTask } from './lib/lane/lane.js'
export type { BackpressureControl, ProbeState, HaproxyServerState } from './plugins/httpchk/index.js'
export type { BackpressureMetrics, GraphiteStats } from './plugins/metrics/index.js'
// Priorities: per call (`priority`), per route (`config.backpressure`), and the figures by priority.
export type { PriorityOption, RouteBackpressureConfig } from './lib/executor/options.js'
export type { PriorityFigures } from './lib/executor/engine.js'
