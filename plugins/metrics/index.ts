// PLACEHOLDER: replaced by the metrics plugin implementation.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface MetricsPluginOptions {
  prefix?: string
  exposeRoute?: string | false
}

export const METRICS_PLUGIN_NAME = 'fastify-backpressure-metrics'

async function metricsPlugin (_fastify: FastifyInstance, _options: MetricsPluginOptions): Promise<void> {}

export default fp(metricsPlugin, { fastify: '5.x', name: METRICS_PLUGIN_NAME, dependencies: ['fastify-backpressure-pool'] })
