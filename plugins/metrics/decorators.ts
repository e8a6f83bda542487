import type { Registry } from 'prom-client'
import type { GraphitePusherStats } from '../../lib/metrics/graphite.js'

/** The Graphite push's counters (`app.backpressureMetrics.graphite.stats()`). */
export type GraphiteStats = GraphitePusherStats

/** What the metrics plugin exposes as `app.backpressureMetrics`. */
export interface BackpressureMetrics {
  /** The prom-client registry holding the metrics: the `metrics.registry` option, or the
   * plugin's own. Serve it yourself with `await registry.metrics()` and `registry.contentType`. */
  readonly registry: Registry
  /** The names of the metrics this plugin registered (with the prefix). */
  readonly names: readonly string[]
  /** The path of the GET route serving the metrics (`metrics.exposeRoute`), or `null` when there is none. */
  readonly route: string | null
  /** The Graphite push, or `null` when `metrics.graphite` is off. */
  readonly graphite: {
    /** A connection to carbon is open. */
    readonly connected: boolean
    /** Pushes, lines, dropped pushes, connections and errors since registration. */
    stats: () => GraphiteStats
  } | null
}

declare module 'fastify' {
  interface FastifyInstance {
    /** fastify-backpressure metrics plugin: the prom-client registry and the Graphite push status. */
    backpressureMetrics: BackpressureMetrics
  }
}
