/**
 * Metrics plugin: prom-client metrics of the executors, read at scrape time: the worker pool
 * (`app.pool`, `pool_*` series) and each lane (`app.lanes`, `lane_*` series labelled `{lane}`),
 * whichever of the two plugins are registered before this one (at least one must be). An optional
 * `GET` route serves them, and an optional push sends the same figures to Graphite.
 *
 * Registers into its own Registry unless given one, so two apps in one process (tests) never hit
 * prom-client's "metric already registered"; `onClose` removes its metrics from a shared registry
 * and stops the Graphite push (timers and socket), so nothing outlives the app.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { Registry } from 'prom-client'
import { GraphitePusher } from '../../lib/graphite-pusher.js'
import { ReadinessMetrics } from '../../lib/readiness-metrics.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { LaneMetrics } from '../../lib/lane-metrics.js'
import { PoolMetrics } from '../../lib/pool-metrics.js'
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

  // Plugins do not import each other: the pool and lanes plugins are found by their decorators.
  const hasPool = fastify.hasDecorator('pool')
  const hasLanes = fastify.hasDecorator('lanes')
  if (!hasPool && !hasLanes) {
    throw new InvalidOptionError('metrics', 'the pool or the lanes plugin registered before the metrics plugin', 'neither app.pool nor app.lanes')
  }
  const poolMetrics = hasPool ? new PoolMetrics({ pool: fastify.pool, registry, prefix, queueWaitBuckets }) : undefined
  let laneMetrics: LaneMetrics | undefined
  let readinessMetrics: ReadinessMetrics
  try {
    laneMetrics = hasLanes ? new LaneMetrics({ lanes: Object.values(fastify.lanes), registry, prefix, queueWaitBuckets }) : undefined
    // The httpchk plugin may be registered before or after this one: looked up at each scrape.
    readinessMetrics = new ReadinessMetrics({
      registry,
      prefix,
      source: () => fastify.hasDecorator('backpressure') ? fastify.backpressure : undefined
    })
  } catch (error) {
    // A name clash registers nothing at all.
    poolMetrics?.close()
    laneMetrics?.close()
    throw error
  }

  const graphitePusher = graphite === false
    ? null
    : new GraphitePusher({
      ...graphite,
      read: () => [...(poolMetrics?.graphiteFigures() ?? []), ...(laneMetrics?.graphiteFigures() ?? [])],
      onConnect () { log.info({ graphite: { host: graphite.host, port: graphite.port } }, 'graphite push connected') },
      // warn, not error: carbon being away is expected to heal, and the app keeps serving.
      onError (error) { log.warn({ err: error }, 'graphite push failed') }
    })

  const decoration: BackpressureMetrics = {
    registry,
    names: [...(poolMetrics?.names ?? []), ...(laneMetrics?.names ?? []), ...readinessMetrics.names],
    route: exposeRoute === false ? null : exposeRoute,
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
    poolMetrics?.close()
    laneMetrics?.close()
    readinessMetrics.close()
  })
}

export default fp(metricsPlugin, {
  fastify: '5.x',
  name: METRICS_PLUGIN_NAME
})
