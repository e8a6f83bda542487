import type { RouteBackpressureConfig } from '../../lib/executor/options.js'
import type { BackpressurePool, PoolRunOptions } from '../../lib/pool/pool.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The worker pool (fastify-backpressure pool plugin). `app.pool.busy`, `app.pool.run()`, … */
    pool: BackpressurePool
  }
  interface FastifyRequest {
    /** `app.pool.run()`, aborted (`FST_BACKPRESSURE_TASK_ABORTED`) if the client disconnects before
     * the answer is sent: a queued task never starts, a running one has its thread replaced. */
    runInPool: <Result = unknown>(task: unknown, options?: PoolRunOptions) => Promise<Result>
  }
  interface FastifyContextConfig {
    /** The route's options for the calls it makes through `request.runInPool()` and
     * `request.runInLane()` (`priority`: their default; a per-call `priority` overrides it).
     * Checked when the route is registered (docs/priorities.md). */
    backpressure?: RouteBackpressureConfig | undefined
  }
}
