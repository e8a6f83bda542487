/**
 * The one line an HAProxy `agent-check` reads (configuration.txt §5.2 "agent-check"), computed from
 * the readiness state and the executors' load. A pure function: same input, same line.
 *
 *   up ready 70% maxconn:8                    free: 70% of the configured weight
 *   up ready 1% maxconn:8 #busy: pool         busy: the weight at its floor (`minWeight`), as the probe says busy
 *   up drain 70% maxconn:8 #draining          shutting down: no new traffic, existing traffic finishes
 *   up drain 100% maxconn:8 #not-ready: db    starting or not ready: no new traffic
 *   down ready maxconn:8 #down: pool          the pool cannot run tasks; HAProxy marks the server DOWN at once
 *
 * Which words go with which state and cause is `STATE_TABLE` in readiness.ts; this file only writes them.
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
 * Weight formula, for each executor: `slots = concurrency + maxQueue`, `load = running + queued`,
 * `weight = roundTo10(100 × (slots − load) / slots)`; the lowest of them, clamped to
 * `[minWeight, 100]`. `maxconn` = every executor's concurrency + `maxQueue`.
 * Rounding to steps of 10% keeps the weight from changing on every check while the load moves
 * by a task or two, so HAProxy's balancing shifts gradually instead of flapping.
 */

import { STATE_TABLE, type ProbeState } from '../httpchk/readiness.js'

/** One executor's load, as the reply reads it. */
export interface ExecutorLoad {
  /** Tasks waiting for a slot. */
  queued: number
  /** Tasks running. */
  running: number
  /** Tasks it runs at once now (an adaptive lane's concurrency moves). */
  concurrency: number
}

/** The load the reply reads: every executor that counts for the balancer (the pool, the lanes). */
export interface AgentLoad {
  executors: readonly ExecutorLoad[]
}

export interface AgentReplyOptions {
  /** Requests allowed to wait beyond the concurrency (`maxconn = concurrency + maxQueue`); undefined: as many as the concurrency. */
  maxQueue: number | undefined
  /** Lowest weight % while up (0 lets the weight reach 0, which takes the server out of rotation). */
  minWeight: number
}

/** Tasks the executors run at once, together. */
export function totalConcurrency (load: AgentLoad): number {
  let concurrency = 0
  for (const executor of load.executors) concurrency += executor.concurrency
  return concurrency
}

/**
 * The weight percentage for a load (see the formula above), taken for each executor and the lowest
 * kept: a process whose pool is full is as full as its pool, whatever room its lanes have, for the
 * balancer cannot tell which requests need the pool. The allowed queue is shared out in proportion
 * to concurrency. 100 when there is nothing to measure.
 */
export function agentWeight (load: AgentLoad, options: AgentReplyOptions): number {
  const total = totalConcurrency(load)
  let weight = 100
  for (const executor of load.executors) {
    const queue = options.maxQueue === undefined || total === 0 ? executor.concurrency : options.maxQueue * executor.concurrency / total
    const slots = executor.concurrency + queue
    if (slots <= 0) continue
    const used = Math.max(0, executor.running) + Math.max(0, executor.queued)
    const free = Math.max(0, slots - used) / slots
    weight = Math.min(weight, Math.round(free * 10) * 10)
  }
  return Math.min(100, Math.max(options.minWeight, weight))
}

/**
 * The agent's reply line for a readiness state (`STATE_TABLE` in readiness.ts), without the line
 * ending. `reason` (`Readiness.reason()`: the state and its causes' names) is sent after `#`, which
 * HAProxy shows in its stats. With no executor (concurrency 0) no `maxconn` is sent: there is
 * nothing to bound.
 */
export function agentReply (state: ProbeState, reason: string | undefined, load: AgentLoad, options: AgentReplyOptions): string {
  const concurrency = totalConcurrency(load)
  const maxconn = concurrency > 0 ? ` maxconn:${concurrency + (options.maxQueue ?? concurrency)}` : ''
  const comment = reason === undefined ? '' : ` #${reason.replace(/[\r\n]/g, ' ')}`
  const row = STATE_TABLE[state]
  if (row.agent === 'down') return `down ready${maxconn}${comment}`
  const weight = row.weight === 'floor' ? options.minWeight : agentWeight(load, options)
  return `up ${row.agent} ${weight}%${maxconn}${comment}`
}
