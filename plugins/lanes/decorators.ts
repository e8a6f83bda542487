import type { RouteBackpressureConfig } from '../../lib/executor/options.js'
import type { Lane, LaneRunOptions, LaneTask } from '../../lib/lane/lane.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The lanes by name (fastify-backpressure lanes plugin): `app.lanes.upstream.run(fn)`. */
    lanes: Record<string, Lane>
  }
  interface FastifyRequest {
    /** `app.lanes[name].run(fn)`, aborted (`FST_BACKPRESSURE_TASK_ABORTED`, and `fn`'s signal
     * fires) if the client disconnects before the answer is sent. An unknown name rejects with
     * `FST_BACKPRESSURE_LANE_NOT_FOUND`. */
    runInLane: <Result>(name: string, fn: LaneTask<Result>, options?: LaneRunOptions) => Promise<Result>
  }
  interface FastifyContextConfig {
    /** The route's options for the calls it makes through `request.runInPool()` and
     * `request.runInLane()` (`priority`: their default; a per-call `priority` overrides it).
     * Checked when the route is registered (docs/priorities.md). */
    backpressure?: RouteBackpressureConfig | undefined
  }
}
