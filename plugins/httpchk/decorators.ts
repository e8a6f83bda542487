import type { HaproxyServerState } from '../../lib/haproxy-server-state.js'

/** What the probe reports: `free` answers 200, every other state answers `busyStatusCode`. */
export type ProbeState = 'free' | 'busy' | 'draining' | 'down'

/**
 * `app.backpressure`, decorated by the httpchk plugin (contract 2 between the suite's plugins).
 */
export interface BackpressureControl {
  /** True from the moment draining starts (`drain()`, `app.close()` or a configured signal); never false again. */
  readonly draining: boolean
  /**
   * Starts draining at once (the probe answers busy, the agent `drain`), keeps serving for the
   * grace period, then closes the app (`app.close()`: in-flight requests and queued tasks finish).
   * Idempotent: later calls return the same promise. Resolves once the app is closed.
   */
  drain: () => Promise<void>
  /** What the probe would answer now. */
  probeState: () => ProbeState
  /** The agent-check port actually bound (useful with `agent.port: 0`); null when the agent is off or closed. */
  readonly agentPort: number | null
  /** The last `X-Haproxy-Server-State` seen from each balancer node, least recently updated first. */
  serverStates: () => HaproxyServerState[]
  /** The last `X-Haproxy-Server-State` seen from one node (`node=`; '' when the header had none). */
  serverState: (node: string) => HaproxyServerState | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Drain control and HAProxy's view of this server (fastify-backpressure httpchk plugin). */
    backpressure: BackpressureControl
  }
}
