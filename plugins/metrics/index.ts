/**
 * Metrics plugin: prom-client metrics of the worker pool (`app.pool`), read at scrape time, with an
 * optional `GET` route serving them and an optional push of the same figures to Graphite.
 *
 * Registers into its own Registry unless given one, so two apps in one process (tests) never hit
 * prom-client's "metric already registered"; `onClose` removes its metrics from a shared registry
 * and stops the Graphite push (timers and socket), so nothing outlives the app.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { Registry } from 'prom-client'
import { GraphitePusher } from '../../lib/graphite-pusher.js'
import { PoolMetrics } from '../../lib/pool-metrics.js'
import { POOL_PLUGIN_NAME } from '../pool/index.js'
import type { BackpressureMetrics } from './decorators.js'
import { normalizeMetricsOptions, type MetricsPluginOptions } from './options.js'
import './decorators.js'

export type { MetricsPluginOptions, GraphiteOptions } from './options.js'
export type { BackpressureMetrics } from './decorators.js'

export const METRICS_PLUGIN_NAME = 'fastify-backpressure-metrics'

async function metricsPlugin (fastify: FastifyInstance, rawOptions: MetricsPluginOptions): Promise<void> {
  const { prefix, registry: givenRegistry, exposeRoute, queueWaitBuckets, graphite } = normalizeMetricsOptions(rawOptions)
  const registry = givenRegistry ?? new Registry()
  const log = fastify.log

  const poolMetrics = new PoolMetrics({ pool: fastify.pool, registry, prefix, queueWaitBuckets })

  const graphitePusher = graphite === false
    ? null
    : new GraphitePusher({
      ...graphite,
      read: () => poolMetrics.graphiteFigures(),
      onConnect () { log.info({ graphite: { host: graphite.host, port: graphite.port } }, 'graphite push connected') },
      // warn, not error: carbon being away is expected to heal, and the app keeps serving.
      onError (error) { log.warn({ err: error }, 'graphite push failed') }
    })

  const decoration: BackpressureMetrics = {
    registry,
    names: poolMetrics.names,
    graphite: graphitePusher === null
      ? null
      : {
          get connected () { return graphitePusher.connected },
          stats: () => graphitePusher.stats()
        }
  }
  fastify.decorate('backpressureMetrics', decoration)

  if (exposeRoute !== false) {
    fastify.get(exposeRoute, async function serveMetrics (_request, reply: FastifyReply) {
      const body = await registry.metrics()
      return reply.type(registry.contentType).send(body)
    })
  }

  fastify.addHook('onReady', async function onReady () {
    graphitePusher?.start()
  })
  fastify.addHook('onClose', async function onClose () {
    graphitePusher?.stop()
    poolMetrics.close()
  })
}

export default fp(metricsPlugin, {
  fastify: '5.x',
  name: METRICS_PLUGIN_NAME,
  dependencies: [POOL_PLUGIN_NAME]
})
