/**
 * Lanes plugin: `app.lanes.<name>` and `request.runInLane()`. No error hook: lane errors carry their
 * `statusCode` and their own lane's retry hint (lib/executor/retry.ts), which Fastify's default
 * error handler sends. See docs/lanes.md.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { LaneNotFoundError } from '../../lib/errors.js'
import { checkRouteConfig, runForRequest } from '../../lib/executor/request.js'
import { Lane, type LaneRunOptions, type LaneSnapshot, type LaneTask } from '../../lib/lane/lane.js'
import { normalizeLanesOptions, type LanesPluginOptions } from './options.js'
import './decorators.js'

export type { LanesPluginOptions, LaneOptions, AdaptiveConcurrencyOptions } from './options.js'

export const LANES_PLUGIN_NAME = 'fastify-backpressure-lanes'

async function lanesPlugin (fastify: FastifyInstance, rawOptions: LanesPluginOptions): Promise<void> {
  const configs = normalizeLanesOptions(rawOptions)
  const log = fastify.log
  const lanes: Record<string, Lane> = Object.create(null) as Record<string, Lane>

  for (const settings of configs) {
    const { name, onBusy, onFree } = settings
    const lane = new Lane(settings, {
      onListenerError (error) { log.error({ err: error, lane: name }, 'a lane listener threw') }
    })
    lane.on('busy', function logBusy (snapshot: LaneSnapshot) { log.info({ lane: name, snapshot }, 'lane busy') })
    lane.on('free', function logFree (snapshot: LaneSnapshot) { log.info({ lane: name, snapshot }, 'lane free') })
    lane.on('concurrency', function logConcurrency (concurrency: number) { log.debug({ lane: name, concurrency }, 'lane concurrency changed') })
    if (onBusy !== undefined) lane.on('busy', onBusy)
    if (onFree !== undefined) lane.on('free', onFree)
    lanes[name] = lane
  }
  const known = Object.keys(lanes).join(', ')

  fastify.decorate('lanes', lanes)
  fastify.decorateRequest('runInLane', function runInLane<Result> (this: FastifyRequest, name: string, fn: LaneTask<Result>, options?: LaneRunOptions): Promise<Result> {
    const lane = lanes[name]
    if (lane === undefined) return Promise.reject(new LaneNotFoundError(name, known))
    return runForRequest(this.raw.socket, this.routeOptions.config, options, (checked) => lane.run(fn, checked))
  })
  fastify.addHook('onRoute', function checkRoutePriority (route) {
    checkRouteConfig(route.config, `${String(route.method)} ${route.url}`)
  })
  fastify.addHook('onClose', async function closeLanes () {
    await Promise.all(Object.values(lanes).map(async (lane) => { await lane.close() }))
  })
}

export default fp(lanesPlugin, {
  fastify: '5.x',
  name: LANES_PLUGIN_NAME
})
