/**
 * The one line an HAProxy `agent-check` reads (configuration.txt §5.2 "agent-check"), computed from
 * the pool's state. A pure function: same input, same line.
 *
 *   up ready 70% maxconn:8          serving; 70% of the configured weight
 *   up drain 70% maxconn:8          shutting down: no new traffic, existing traffic finishes
 *   down #pool down                 the pool cannot run tasks; HAProxy marks the server DOWN at once
 *
 * Words (HAProxy reads them in any order, the last of each kind wins):
 * - `up`/`down`: the health state. HAProxy treats everything after `#` as the reason shown in its
 *   stats, up to the end of the line, so the reason always comes last.
 * - `ready`/`drain`: the admin state. Only the agent can undo its own `drain`, so every `up` line
 *   carries `ready` or `drain` explicitly.
 * - `N%`: the weight, relative to the server's configured `weight` (configure `weight 100`).
 * - `maxconn:N`: how many requests HAProxy may have in flight on this server; the excess waits in
 *   HAProxy's own queue. HAProxy keeps the last value even when the agent stops sending it.
 *
 * Weight formula: `slots = capacity + queue`, `load = running + queued` (pool tasks),
 * `weight = clamp(roundTo10(100 × (slots − load) / slots), minWeight, 100)`.
 * Rounding to steps of 10% keeps the weight from changing on every check while the load moves
 * by a task or two, so HAProxy's balancing shifts gradually instead of flapping.
 */

/** The part of the pool snapshot the reply reads. */
export interface AgentPoolState {
  /** Tasks waiting for a thread. */
  queued: number
  /** Tasks running on a thread. */
  running: number
}

export interface AgentLifecycle {
  /** Draining for a shutdown: HAProxy should stop sending new requests. */
  draining: boolean
  /** The pool cannot run tasks (closed, or it can no longer start threads). */
  down: boolean
}

export interface AgentReplyOptions {
  /** Tasks the pool runs at once (maxThreads × concurrentTasksPerWorker), at least 1. */
  capacity: number
  /** Requests allowed to wait beyond the capacity; `maxconn = capacity + queue`. */
  queue: number
  /** Lowest weight % while up (0 lets the weight reach 0, which takes the server out of rotation). */
  minWeight: number
}

/** Reason sent with `down`; it says no more than the state. */
export const AGENT_DOWN_REASON = 'pool down'

/** The weight percentage for a pool state (see the formula above). */
export function agentWeight (pool: AgentPoolState, options: AgentReplyOptions): number {
  const slots = options.capacity + options.queue
  const load = Math.max(0, pool.running) + Math.max(0, pool.queued)
  const free = Math.max(0, slots - load) / slots
  const weight = Math.round(free * 10) * 10
  return Math.min(100, Math.max(options.minWeight, weight))
}

/** The agent's reply line, without the line ending. */
export function agentReply (pool: AgentPoolState, lifecycle: AgentLifecycle, options: AgentReplyOptions): string {
  const maxconn = `maxconn:${options.capacity + options.queue}`
  if (lifecycle.down) return `down ${lifecycle.draining ? 'drain' : 'ready'} ${maxconn} #${AGENT_DOWN_REASON}`
  return `up ${lifecycle.draining ? 'drain' : 'ready'} ${agentWeight(pool, options)}% ${maxconn}`
}
