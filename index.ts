/**
 * fastify-backpressure: one-line registration of the pool, lanes, httpchk and metrics plugins, in
 * that order (httpchk and metrics read the executors: the pool and every lane).
 *
 *   await app.register(backpressure, { pool: { filename }, lanes: { upstream: { concurrency: 16 } } })
 *
 * `pool` and `lanes` are each optional (an I/O-only app has lanes and no worker file; an app may
 * have neither and only the probe). `httpchk` and `metrics` are on by default; `false` leaves one out.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { objectOption, rejectUnknownPluginKeys } from './lib/validate.js'
import { InvalidOptionError, describeValue } from './lib/errors.js'
import poolPlugin, { type PoolPluginOptions } from './plugins/pool/index.js'
import lanesPlugin, { type LaneConfig, type LanesPluginOptions } from './plugins/lanes/index.js'
import httpchkPlugin, { type HttpchkPluginOptions } from './plugins/httpchk/index.js'
import metricsPlugin, { type MetricsPluginOptions } from './plugins/metrics/index.js'

export interface BackpressureOptions {
  /** Pool plugin options (`filename` is required), or leave it out for an app without worker threads. */
  pool?: PoolPluginOptions
  /** Lanes by name (`{ upstream: { concurrency: 16, maxQueue: 64, timeout: 2000 } }`), or leave it out. */
  lanes?: Record<string, LaneConfig>
  /** httpchk plugin options, or `false` to leave the probe out. Default: on, `OPTIONS /`. */
  httpchk?: HttpchkPluginOptions | false
  /** metrics plugin options, or `false` to leave metrics out. Default: on, no route. */
  metrics?: MetricsPluginOptions | false
}

const KNOWN_KEYS: ReadonlySet<string> = new Set(['pool', 'lanes', 'httpchk', 'metrics'])

function section<T extends object> (name: string, value: unknown): T | false {
  if (value === false) return false
  return objectOption(name, value) as T
}

async function backpressure (fastify: FastifyInstance, rawOptions: BackpressureOptions): Promise<void> {
  const options = objectOption('options', rawOptions)
  rejectUnknownPluginKeys('options', options, KNOWN_KEYS)
  // Checked here too: Fastify would turn `pool: null` into `{}` and the error would blame pool.filename.
  if (options.pool === null) throw new InvalidOptionError('pool', 'an object with at least "filename" (or no pool key)', describeValue(options.pool))
  const pool = options.pool === undefined ? undefined : objectOption('pool', options.pool) as unknown as PoolPluginOptions
  const lanes = options.lanes === undefined ? undefined : objectOption('lanes', options.lanes) as unknown as LanesPluginOptions['lanes']
  const httpchk = section<HttpchkPluginOptions>('httpchk', options.httpchk)
  const metrics = section<MetricsPluginOptions>('metrics', options.metrics)

  if (pool !== undefined) await fastify.register(poolPlugin, pool)
  if (lanes !== undefined) await fastify.register(lanesPlugin, { lanes })
  if (httpchk !== false) await fastify.register(httpchkPlugin, httpchk)
  // The metrics measure the executors: with neither a pool nor lanes there is nothing to measure.
  if (metrics !== false && (pool !== undefined || lanes !== undefined)) await fastify.register(metricsPlugin, metrics)
}

const plugin = fp(backpressure, { fastify: '5.x', name: 'fastify-backpressure' })

export default plugin
export { plugin as backpressure, poolPlugin, lanesPlugin, httpchkPlugin, metricsPlugin }
export type { PoolPluginOptions, LanesPluginOptions, LaneConfig, HttpchkPluginOptions, MetricsPluginOptions }
export type { HttpchkAgentOptions, HttpchkDrainOptions, HttpchkHaproxyOptions, HttpchkLivenessOptions, BackpressureControl, ProbeState, HaproxyServerState } from './plugins/httpchk/index.js'
export type { GraphiteOptions, BackpressureMetrics } from './plugins/metrics/index.js'
export { isRetryablePoolError, RETRYABLE_POOL_ERROR_CODES } from './plugins/pool/index.js'
export { BackpressurePool } from './lib/pool.js'
export { Lane } from './lib/lane.js'
export type { LaneSnapshot, LaneStats, LaneRunOptions, LaneTask, LaneEvents } from './lib/lane.js'
export type { Executor, ExecutorSnapshot, ExecutorStats } from './lib/executor.js'
export { isRetryableLaneError, RETRYABLE_LANE_ERROR_CODES } from './plugins/lanes/index.js'
export type { PoolSnapshot, PoolStats, RunOptions, BackpressurePoolEvents } from './lib/pool.js'
export type { PriorityOption, RouteBackpressureConfig } from './lib/core/run-options.js'
export type { PriorityFigures } from './lib/core/engine.js'
export * as errors from './lib/errors.js'
