/**
 * Lanes plugin: decorates the app with `lanes`, one `Lane` per configured name: a bounded
 * concurrency gate for async work on the main thread (upstream calls), busy when more calls wait
 * than slots are free, like the worker pool. `request.runInLane(name, fn)` runs `fn(signal)` in a
 * lane and aborts it if the client disconnects, at the route's default priority
 * (`config.backpressure.priority`, checked in an `onRoute` hook) unless the call sets its own.
 * Each transition is logged once; the lanes close in `onClose`, letting running calls finish
 * within each lane's `closeTimeout`.
 *
 * Lane errors carry their HTTP status; an `onError` hook adds `Retry-After` to the retryable ones
 * (unless a header is already set), and never replaces the app's error handler.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { runWhileClientStays } from '../../lib/client-gone.js'
import { LaneNotFoundError } from '../../lib/errors.js'
import { checkRouteConfig, withRoutePriority } from '../../lib/route-priority.js'
import { Lane, type LaneRunOptions, type LaneSnapshot, type LaneTask } from '../../lib/lane.js'
import { normalizeLanesOptions, type LanesPluginOptions } from './options.js'
import './decorators.js'

export type { LanesPluginOptions, LaneConfig } from './options.js'

export const LANES_PLUGIN_NAME = 'fastify-backpressure-lanes'

/** Error codes after which the client may retry later: the call never ran. */
export const RETRYABLE_LANE_ERROR_CODES: ReadonlySet<string> = new Set([
  'FST_BACKPRESSURE_QUEUE_FULL',
  'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED',
  'FST_BACKPRESSURE_LANE_CLOSED'
])

async function lanesPlugin (fastify: FastifyInstance, rawOptions: LanesPluginOptions): Promise<void> {
  const { lanes: configs, retryAfter } = normalizeLanesOptions(rawOptions)
  const RETRY_AFTER = String(retryAfter)
  const log = fastify.log
  const lanes: Record<string, Lane> = Object.create(null) as Record<string, Lane>

  for (const { options, onBusy, onFree } of configs) {
    const lane = new Lane({
      ...options,
      onListenerError (error) { log.error({ err: error, lane: options.name }, 'a lane listener threw') }
    })
    lane.on('busy', function logBusy (snapshot: LaneSnapshot) { log.info({ lane: lane.name, snapshot }, 'lane busy') })
    lane.on('free', function logFree (snapshot: LaneSnapshot) { log.info({ lane: lane.name, snapshot }, 'lane free') })
    lane.on('capacity', function logCapacity (capacity: number) { log.debug({ lane: lane.name, capacity }, 'lane limit changed') })
    if (onBusy !== undefined) lane.on('busy', onBusy)
    if (onFree !== undefined) lane.on('free', onFree)
    lanes[options.name] = lane
  }
  const known = Object.keys(lanes).join(', ')

  fastify.decorate('lanes', lanes)
  fastify.decorateRequest('runInLane', function runInLane<Result> (this: FastifyRequest, name: string, fn: LaneTask<Result>, options?: LaneRunOptions): Promise<Result> {
    const lane = lanes[name]
    if (lane === undefined) return Promise.reject(new LaneNotFoundError(name, known))
    let withPriority: LaneRunOptions | undefined
    try {
      withPriority = withRoutePriority(options, this.routeOptions.config)
    } catch (error) {
      return Promise.reject(error)
    }
    return runWhileClientStays(this.raw.socket, withPriority, (checked) => lane.run(fn, checked))
  })
  fastify.addHook('onRoute', function checkRoutePriority (route) {
    checkRouteConfig(route.config, `${String(route.method)} ${route.url}`)
  })
  fastify.addHook('onError', async function onLaneError (_request: FastifyRequest, reply: FastifyReply, error: Error) {
    if (isRetryableLaneError(error) && !reply.hasHeader('retry-after')) reply.header('Retry-After', RETRY_AFTER)
  })
  fastify.addHook('onClose', async function closeLanes () {
    await Promise.all(Object.values(lanes).map(async (lane) => { await lane.close() }))
  })
}

export default fp(lanesPlugin, {
  fastify: '5.x',
  name: LANES_PLUGIN_NAME
})

/** True for the errors a lane rejects with when the call never ran and a retry may work. */
export function isRetryableLaneError (error: unknown): error is Error & { code: string, statusCode: number } {
  return error instanceof Error && RETRYABLE_LANE_ERROR_CODES.has((error as { code?: string }).code ?? '')
}
