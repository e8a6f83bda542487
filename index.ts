/**
 * fastify-backpressure: one-line registration of the pool, httpchk and metrics plugins, in that
 * order (httpchk and metrics read the pool).
 *
 *   await app.register(backpressure, { pool: { filename }, httpchk: {}, metrics: {} })
 *
 * `httpchk` and `metrics` are on by default; pass `false` to leave one out.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { objectOption, rejectUnknownKeys } from './lib/validate.js'
import { InvalidOptionError, describeValue } from './lib/errors.js'
import poolPlugin, { type PoolPluginOptions } from './plugins/pool/index.js'
import httpchkPlugin, { type HttpchkPluginOptions } from './plugins/httpchk/index.js'
import metricsPlugin, { type MetricsPluginOptions } from './plugins/metrics/index.js'

export interface BackpressureOptions {
  /** Pool plugin options; `filename` is required. */
  pool: PoolPluginOptions
  /** httpchk plugin options, or `false` to leave the probe out. Default: on, `OPTIONS /`. */
  httpchk?: HttpchkPluginOptions | false
  /** metrics plugin options, or `false` to leave metrics out. Default: on, no route. */
  metrics?: MetricsPluginOptions | false
}

const KNOWN_KEYS: ReadonlySet<string> = new Set(['pool', 'httpchk', 'metrics'])

function section<T extends object> (name: string, value: unknown): T | false {
  if (value === false) return false
  return objectOption(name, value) as T
}

async function backpressure (fastify: FastifyInstance, rawOptions: BackpressureOptions): Promise<void> {
  const options = objectOption('options', rawOptions)
  rejectUnknownKeys('options', options, KNOWN_KEYS)
  if (options.pool === undefined) throw new InvalidOptionError('pool', 'an object with at least "filename"', describeValue(options.pool))
  // Checked here too: Fastify would turn `pool: null` into `{}` and the error would blame pool.filename.
  const pool = objectOption('pool', options.pool) as unknown as PoolPluginOptions
  const httpchk = section<HttpchkPluginOptions>('httpchk', options.httpchk)
  const metrics = section<MetricsPluginOptions>('metrics', options.metrics)

  await fastify.register(poolPlugin, pool)
  if (httpchk !== false) await fastify.register(httpchkPlugin, httpchk)
  if (metrics !== false) await fastify.register(metricsPlugin, metrics)
}

const plugin = fp(backpressure, { fastify: '5.x', name: 'fastify-backpressure' })

export default plugin
export { plugin as backpressure, poolPlugin, httpchkPlugin, metricsPlugin }
export type { PoolPluginOptions, HttpchkPluginOptions, MetricsPluginOptions }
export type { HttpchkAgentOptions, HttpchkDrainOptions, HttpchkHaproxyOptions, BackpressureControl, ProbeState, HaproxyServerState } from './plugins/httpchk/index.js'
export type { GraphiteOptions, BackpressureMetrics } from './plugins/metrics/index.js'
export { isRetryablePoolError, RETRYABLE_POOL_ERROR_CODES } from './plugins/pool/index.js'
export { BackpressurePool } from './lib/pool.js'
export type { PoolSnapshot, PoolStats, RunOptions, BackpressurePoolEvents } from './lib/pool.js'
export * as errors from './lib/errors.js'
