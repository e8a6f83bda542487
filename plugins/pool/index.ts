/**
 * Pool plugin: decorates the app with `pool`, a piscina pool that tracks busy/free from events and
 * announces each transition once (log at info level, `onBusy`/`onFree`, `pool.on('busy'|'free')`).
 * The pool closes in `onClose`: queued tasks finish, bounded by `closeTimeout`.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { BackpressurePool, type PoolSnapshot } from '../../lib/pool.js'
import { normalizePoolOptions, type PoolPluginOptions } from './options.js'
import './decorators.js'

export type { PoolPluginOptions } from './options.js'

export const POOL_PLUGIN_NAME = 'fastify-backpressure-pool'

async function poolPlugin (fastify: FastifyInstance, rawOptions: PoolPluginOptions): Promise<void> {
  const { piscina, timeout, onBusy, onFree } = normalizePoolOptions(rawOptions)
  const log = fastify.log

  const pool = new BackpressurePool({
    ...piscina,
    timeout,
    onListenerError (error) { log.error({ err: error }, 'a pool busy/free listener threw') }
  })

  pool.on('busy', function logBusy (snapshot: PoolSnapshot) { log.info({ pool: snapshot }, 'worker pool busy') })
  pool.on('free', function logFree (snapshot: PoolSnapshot) { log.info({ pool: snapshot }, 'worker pool free') })
  if (onBusy !== undefined) pool.on('busy', onBusy)
  if (onFree !== undefined) pool.on('free', onFree)
  pool.on('error', function logPoolError (error: Error) { log.error({ err: error }, 'worker pool error') })

  fastify.decorate('pool', pool)
  fastify.addHook('onClose', async function onClose () {
    await pool.close()
  })
}

export default fp(poolPlugin, {
  fastify: '5.x',
  name: POOL_PLUGIN_NAME
})
