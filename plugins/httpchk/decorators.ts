import type { HaproxyServerState } from '../../lib/haproxy-server-state.js'
import type { ProbeState } from '../../lib/readiness.js'

export type { ProbeState } from '../../lib/readiness.js'

/**
 * `app.backpressure`, decorated by the httpchk plugin: the one readiness state that the probe, the
 * agent, the metrics and the dashboard read, and the controls that move it.
 */
export interface BackpressureControl {
  /** What the probe and the agent answer now: `'starting' | 'free' | 'busy' | 'not-ready' | 'draining' | 'down'`. */
  probeState: () => ProbeState
  /** Why the state is `starting`, `not-ready` or `down` (the reasons joined); undefined otherwise. */
  probeReason: () => string | undefined
  /** Marks the process not ready (the probe fails, the agent says `drain`) for `reason`, until `setReady()`.
   * For the app's own decisions: a fatal error, a cache still warming, maintenance. */
  setNotReady: (reason: string) => void
  /** Undoes `setNotReady()`. Failing `checks` keep the process not ready until they pass. */
  setReady: () => void
  /** True from the moment draining starts (`drain()`, `app.close()` or a configured signal); never false again. */
  readonly draining: boolean
  /**
   * Starts draining at once (the probe answers busy, the agent `drain`), keeps serving for the
   * grace period, then closes the app (`app.close()`: in-flight requests and queued tasks finish,
   * bounded by `drain.timeout`). Idempotent: later calls return the same promise. Resolves once
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
