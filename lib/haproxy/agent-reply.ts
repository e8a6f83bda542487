/**
 * The line an HAProxy `agent-check` reads (configuration.txt §5.2 "agent-check"), a pure function of
 * the readiness state and the executors' load; the lines and their meaning are in docs/haproxy.md.
 * Which words go with which state is `STATE_TABLE` in readiness.ts: this file only writes them.
 * Must hold: the `#` reason comes last (HAProxy reads everything after `#` to the end of the line),
 * and every `up` line says `ready` or `drain` (only the agent can undo its own `drain`).
 */

import { STATE_TABLE, type ProbeState } from '../httpchk/readiness.js'

export interface ExecutorLoad {
  queued: number
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

export function totalConcurrency (load: AgentLoad): number {
  let concurrency = 0
  for (const executor of load.executors) concurrency += executor.concurrency
  return concurrency
}

/**
 * The weight percentage: per executor, `slots = concurrency + its share of maxQueue` (shared in
 * proportion to concurrency) and `round to 10% of (slots − running − queued) / slots`; the lowest,
 * clamped to `[minWeight, 100]`; 100 when there is nothing to measure. The lowest, because a process
 * whose pool is full is full whatever room its lanes have: the balancer cannot tell which requests
 * need the pool. Steps of 10% keep the weight still while the load moves by a task or two, so
 * HAProxy's balancing shifts gradually instead of flapping.
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
 * The agent's reply line for a readiness state, without the line ending. `reason`
 * (`Readiness.reason()`) is sent after `#`, which HAProxy shows in its stats. `maxconn` = every
 * executor's concurrency + `maxQueue`; with no executor none is sent: there is nothing to bound.
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
