import type { HaproxyServerState } from '../../lib/haproxy/server-state.js'
import type { ProbeState } from '../../lib/httpchk/readiness.js'

export type { ProbeState } from '../../lib/httpchk/readiness.js'

/**
 * `app.backpressure`, decorated by the httpchk plugin: the one readiness state that the probe, the
 * agent, the metrics and the dashboard read, and the controls that move it.
 */
export interface BackpressureControl {
  /** What the probe and the agent answer now: `'starting' | 'free' | 'busy' | 'not-ready' | 'draining' | 'down'`. */
  probeState: () => ProbeState
  /** What the agent sends after `#`: the state and the names of its causes (`busy: pool`,
   * `not-ready: cache warming, db`, `down: pool`, `starting`, `draining`); undefined when `free`.
   * A failing check appears by its name only; its error's text goes to the log. */
  probeReason: () => string | undefined
  /** Marks the process not ready (the probe fails, the agent says `drain`) for `reason`, until `setReady()`.
   * For the app's own decisions: a fatal error, a cache still warming, maintenance. `reason` is sent
   * to the balancers as it is (`#not-ready: <reason>`), so keep it to a name. */
  setNotReady: (reason: string) => void
  /** Undoes `setNotReady()`. Failing `checks` keep the process not ready until they pass. */
  setReady: () => void
  /** True from the moment draining starts (`drain()`, `app.close()` or a configured signal); never false again. */
  readonly draining: boolean
  /**
   * Starts draining at once (the probe answers busy, the agent `drain`), keeps serving for the
   * grace period, then closes the app (`app.close()`: in-flight requests and queued tasks finish,
   * bounded by `drain.timeout`). Idempotent: later calls return the same promise. An
   * `app.close()` called during the grace waits for it too, and the app closes once. Resolves once
   * the app is closed.
   */
  drain: () => Promise<void>
  /** The agent-check port actually bound (useful with `agent.port: 0`); null when the agent is off or closed. */
  readonly agentPort: number | null
  /** The last `X-Haproxy-Server-State` seen from each balancer node, least recently updated first. */
  serverStates: () => HaproxyServerState[]
  /** The last `X-Haproxy-Server-State` seen from one node (`node=`; '' when the header had none). */
  serverState: (node: string) => HaproxyServerState | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Readiness, drain control and HAProxy's view of this server (fastify-backpressure httpchk plugin). */
    backpressure: BackpressureControl
  }
}
