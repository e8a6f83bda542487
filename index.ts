/**
 * fastify-backpressure: registers the pool, lanes, httpchk and metrics plugins, in that order
 * (httpchk and metrics read the executors). Each section must stay exactly the options of its
 * plugin registered alone, checked by the same normaliser.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { normalizeBackpressureOptions } from './options.js'
import poolPlugin, { type PoolPluginOptions } from './plugins/pool/index.js'
import lanesPlugin, { type LaneOptions } from './plugins/lanes/index.js'
import httpchkPlugin, { type HttpchkPluginOptions } from './plugins/httpchk/index.js'
import metricsPlugin, { type MetricsPluginOptions } from './plugins/metrics/index.js'

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

async function backpressure (fastify: FastifyInstance, rawOptions: BackpressureOptions): Promise<void> {
  // Every section is checked before any plugin starts anything (threads, a listener): a typo in
  // `metrics` must not leave a pool running.
  const { pool, lanes, httpchk, metrics } = normalizeBackpressureOptions(rawOptions)

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
