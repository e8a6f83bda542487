/**
 * Pool plugin: `app.pool` and `request.runInPool()`. No error hook: pool errors carry their
 * `statusCode` and retry hint (lib/executor/retry.ts), which Fastify's default error handler sends.
 * See docs/queue-and-admission.md.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { BackpressurePool, type PoolRunOptions, type PoolSnapshot } from '../../lib/pool/pool.js'
import { WorkerLoadFailedError } from '../../lib/errors.js'
import { checkWorkerLoads } from '../../lib/pool/piscina.js'
import { checkRouteConfig, runForRequest } from '../../lib/executor/request.js'
import { normalizePoolOptions, type PoolPluginOptions } from './options.js'
import './decorators.js'

export type { PoolPluginOptions } from './options.js'

export const POOL_PLUGIN_NAME = 'fastify-backpressure-pool'

async function poolPlugin (fastify: FastifyInstance, rawOptions: PoolPluginOptions): Promise<void> {
  const settings = normalizePoolOptions(rawOptions)
  const { piscina, onBusy, onFree } = settings
  const log = fastify.log

  const pool = new BackpressurePool(settings, {
    onListenerError (error) { log.error({ err: error }, 'a pool busy/free listener threw') }
  })

  pool.on('busy', function logBusy (snapshot: PoolSnapshot) { log.info({ pool: snapshot }, 'worker pool busy') })
  pool.on('free', function logFree (snapshot: PoolSnapshot) { log.info({ pool: snapshot }, 'worker pool free') })
  pool.on('down', function logDown (reason: string, snapshot: PoolSnapshot) {
    // Closing is routine; threads that cannot start are an outage.
    if (reason === 'closing') log.info({ pool: snapshot }, 'worker pool closing')
    else log.error({ pool: snapshot, reason }, 'worker pool down')
  })
  if (onBusy !== undefined) pool.on('busy', onBusy)
  if (onFree !== undefined) pool.on('free', onFree)
  pool.on('error', function logPoolError (error: Error) { log.error({ err: error }, 'worker pool error') })

  fastify.decorate('pool', pool)
  fastify.decorateRequest('runInPool', function runInPool (this: FastifyRequest, task: unknown, options?: PoolRunOptions) {
    return runForRequest(this.raw.socket, this.routeOptions.config, options, (checked) => pool.run(task, checked))
  })
  fastify.addHook('onRoute', function checkRoutePriority (route) {
    checkRouteConfig(route.config, `${String(route.method)} ${route.url}`)
  })
  fastify.addHook('onClose', async function onClose () {
    await pool.close()
  })
  // Before the app serves: a worker file that cannot load fails `ready()` instead of every task.
  // Fastify runs no onClose hook when ready() fails, so the pool is closed here.
  fastify.addHook('onReady', async function confirmWorkerLoads () {
    try {
      await checkWorkerLoads(pool.piscina)
    } catch (error) {
      await pool.close()
      // piscina rejects, and a thread that dies emits, Error objects.
      throw new WorkerLoadFailedError(piscina.filename, (error as Error).message, { cause: error })
    }
  })
}

export default fp(poolPlugin, {
  fastify: '5.x',
  name: POOL_PLUGIN_NAME
})
