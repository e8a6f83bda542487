import type { BackpressurePool } from '../../lib/pool.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The worker pool (fastify-backpressure pool plugin). `app.pool.busy`, `app.pool.run()`, … */
    pool: BackpressurePool
  }
}
