/**
 * Metrics plugin: prom-client metrics read at scrape time: the worker pool (`app.pool`, `pool_*`
 * series) and each lane (`app.lanes`, `lane_*` series labelled `{lane}`), whichever of the two
 * plugins are registered before this one, and the readiness state (`probe_state`,
 * `balancer_server_up`) when the httpchk plugin is in the app, before or after. With none of the
 * three there is nothing to measure, and `ready()` says so rather than serve an empty page. An
 * optional `GET` route serves them, and an optional push sends the executors' figures to Graphite.
 *
 * Registers into its own Registry unless given one, so two apps in one process (tests) never hit
 * prom-client's "metric already registered"; `onClose` removes its metrics from a shared registry
 * and stops the Graphite push (timers and socket), so nothing outlives the app.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { Registry } from 'prom-client'
import { GraphitePusher } from '../../lib/metrics/graphite.js'
import { ReadinessMetrics } from '../../lib/metrics/readiness-metrics.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { isExecutor, type ExecutorSnapshot } from '../../lib/executor/types.js'
import { ExecutorMetrics, LANES, POOL } from '../../lib/metrics/executor-metrics.js'
import type { BackpressureMetrics } from './decorators.js'
import { normalizeMetricsOptions, type MetricsPluginOptions } from './options.js'
import './decorators.js'

export type { MetricsPluginOptions, MetricsGraphiteOptions } from './options.js'
export type { BackpressureMetrics, GraphiteStats } from './decorators.js'

export const METRICS_PLUGIN_NAME = 'fastify-backpressure-metrics'

async function metricsPlugin (fastify: FastifyInstance, rawOptions: MetricsPluginOptions): Promise<void> {
  const { prefix, registry: givenRegistry, exposeRoute, queueWaitBuckets, graphite } = normalizeMetricsOptions(rawOptions)
  const registry = givenRegistry ?? new Registry()
  const log = fastify.log

  // Plugins do not import each other: the pool and lanes plugins are found by their decorators.
  const hasPool = hasPoolExecutor(fastify)
  const hasLanes = fastify.hasDecorator('lanes')
  const executorMetrics: Array<ExecutorMetrics<ExecutorSnapshot>> = []
  let readinessMetrics: ReadinessMetrics
  try {
    if (hasPool) executorMetrics.push(new ExecutorMetrics(POOL, [fastify.pool], { registry, prefix, queueWaitBuckets }))
    if (hasLanes) executorMetrics.push(new ExecutorMetrics(LANES, Object.values(fastify.lanes), { registry, prefix, queueWaitBuckets }))
    // The httpchk plugin may be registered before or after this one: looked up at each scrape.
    readinessMetrics = new ReadinessMetrics({
      registry,
      prefix,
      source: () => fastify.hasDecorator('backpressure') ? fastify.backpressure : undefined
    })
  } catch (error) {
    // A name clash registers nothing at all.
    for (const metrics of executorMetrics) metrics.close()
    throw error
  }

  const graphitePusher = graphite === false
    ? null
    : new GraphitePusher({
      ...graphite,
      read: async () => (await Promise.all(executorMetrics.map(async (metrics) => await metrics.graphiteFigures()))).flat(),
      onConnect () { log.info({ graphite: { host: graphite.host, port: graphite.port } }, 'graphite push connected') },
      // warn, not error: carbon being away is expected to heal, and the app keeps serving.
      onError (error) { log.warn({ err: error }, 'graphite push failed') }
    })

  const decoration: BackpressureMetrics = {
    registry,
    names: [...executorMetrics.flatMap((metrics) => metrics.names), ...readinessMetrics.names],
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

  function close (): void {
    graphitePusher?.stop()
    for (const metrics of executorMetrics) metrics.close()
    readinessMetrics.close()
  }

  fastify.addHook('onReady', async function onReady () {
    // An executor registered after this plugin would have no metrics, and an app with nothing to
    // measure would serve an empty page: both are refused rather than left silent. Fastify runs no
    // onClose hook when ready() fails, so what was registered is removed here.
    const problem = setUpProblem(fastify, { hasPool, hasLanes, graphite: graphite !== false })
    if (problem !== undefined) {
      close()
      throw problem
    }
    graphitePusher?.start()
  })
  fastify.addHook('onClose', async function onClose () {
    close()
  })
}

/** What makes the metrics plugin's set-up unable to take effect, found when the app is ready. */
function setUpProblem (fastify: FastifyInstance, made: { hasPool: boolean, hasLanes: boolean, graphite: boolean }): Error | undefined {
  if (!made.hasPool && hasPoolExecutor(fastify)) {
    return new InvalidOptionError('metrics', 'the pool plugin registered before the metrics plugin (the pool\'s metrics are made when metrics registers)', 'app.pool registered after it')
  }
  if (!made.hasLanes && fastify.hasDecorator('lanes')) {
    return new InvalidOptionError('metrics', 'the lanes plugin registered before the metrics plugin (the lanes\' metrics are made when metrics registers)', 'app.lanes registered after it')
  }
  if (made.hasPool || made.hasLanes) return undefined
  if (made.graphite) {
    return new InvalidOptionError('metrics.graphite', 'false unless the pool or the lanes plugin is registered before the metrics plugin (Graphite gets their figures)', 'an object')
  }
  if (!fastify.hasDecorator('backpressure')) {
    return new InvalidOptionError('metrics', 'the pool, the lanes or the httpchk plugin in the same app (with none of them there is nothing to measure)', 'none of app.pool, app.lanes, app.backpressure')
  }
  return undefined
}

function hasPoolExecutor (fastify: FastifyInstance): boolean {
  return fastify.hasDecorator('pool') && isExecutor((fastify as unknown as { pool: unknown }).pool)
}

export default fp(metricsPlugin, {
  fastify: '5.x',
  name: METRICS_PLUGIN_NAME
})
