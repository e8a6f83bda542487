/**
 * Prometheus gauges of the readiness state and of what each balancer node thinks of this server,
 * read at scrape time from the same functions the probe and the agent read (`probeState()`,
 * `serverStates()`), so the metrics can never tell another story than the probe.
 *
 * - `<prefix>probe_state{state}`: 1 for the current state, 0 for the five others.
 * - `<prefix>balancer_server_up{node}`: 1 when that HAProxy node's last `X-Haproxy-Server-State`
 *   said UP (an `UP 1/2` on its way down included), 0 for DOWN, NOLB or `no check`. One series per
 *   node, as many as the httpchk plugin keeps (`MAX_SERVER_STATE_NODES`, lib/haproxy/server-state.ts);
 *   a node forgotten there is dropped here at the next scrape.
 */
import { Gauge, type Registry } from 'prom-client'
import type { HaproxyServerState } from '../haproxy/server-state.js'
import { PROBE_STATES, type ProbeState } from '../httpchk/readiness.js'
import { register, type Registration } from './registration.js'

export interface ReadinessMetricsOptions {
  registry: Registry
  prefix: string
  /** Read at each scrape; undefined while no readiness is known (the httpchk plugin is not registered). */
  source: () => { probeState: () => ProbeState, serverStates: () => HaproxyServerState[] } | undefined
}

export class ReadinessMetrics {
  readonly names: readonly string[]
  readonly #registration: Registration

  constructor ({ registry, prefix, source }: ReadinessMetricsOptions) {
    this.#registration = register(registry, [
      new Gauge({
        name: `${prefix}probe_state`,
        help: 'The readiness state the probe and the agent answer from: 1 for the current state, else 0.',
        labelNames: ['state'] as const,
        registers: [],
        collect () {
          const readiness = source()
          if (readiness === undefined) return
          const current = readiness.probeState()
          for (const state of PROBE_STATES) this.set({ state }, state === current ? 1 : 0)
        }
      }),
      new Gauge({
        name: `${prefix}balancer_server_up`,
        help: "1 when the balancer node's last X-Haproxy-Server-State said this server is UP, else 0.",
        labelNames: ['node'] as const,
        registers: [],
        collect () {
          this.reset()
          for (const { node, state } of source()?.serverStates() ?? []) this.set({ node }, state === 'UP' ? 1 : 0)
        }
      })
    ])
    this.names = this.#registration.names
  }

  /** Removes our gauges from the registry. */
  close (): void {
    this.#registration.remove()
  }
}
