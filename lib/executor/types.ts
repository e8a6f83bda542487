/**
 * What every executor (the pool, each lane) has in common. The probe, the agent and the metrics
 * read executors through this interface only: they must not tell a pool from a lane.
 * Events: `'busy'`/`'free'` (snapshot), once per reported transition; `'down'` (reason, snapshot),
 * once; `'concurrency'` (the new value) when an adaptive lane's concurrency changes.
 */
import type { EventEmitter } from 'node:events'

/** What every executor's snapshot holds. Every field is read synchronously and cheaply. (A type,
 * not an interface: its implicit index signature makes it an `ExecutorSnapshot`.) */
export type SnapshotFields = {
  /** More tasks queued than free slots (as reported: after flap damping, when enabled). */
  busy: boolean
  /** Tasks waiting for a slot: the executor's own queue, plus any its runner holds (the pool:
   * piscina's `queueSize`, tasks handed over while a thread starts). */
  queued: number
  /** Tasks running now (submitted, not settled, not queued). */
  running: number
  /** Tasks that resolved. */
  completed: number
  /** Tasks that settled with an error, whatever the reason (`stats()` has the breakdown). */
  failed: number
  /** Tasks it runs at once now (the same as the executor's `concurrency`). */
  concurrency: number
}

/** An executor's state at one moment, as the probe, the agent and the metrics read it. */
export type ExecutorSnapshot = SnapshotFields & { [key: string]: unknown }

/** Lifetime counters. `submitted === completed + failed + inFlight` holds at every moment, and
 * `failed === rejected + displaced + shed + aborted + timedOut + errored + crashed`. */
export interface ExecutorStats {
  submitted: number
  completed: number
  failed: number
  inFlight: number
  /** Refused before queuing: queue full (`_QUEUE_FULL`), closing (`_CLOSED`) or down (`_POOL_DOWN`). */
  rejected: number
  /** Taken out of a full queue by a task of higher priority (`_QUEUE_FULL`). */
  displaced: number
  /** Shed by queue-wait admission (`_QUEUE_WAIT_EXCEEDED`). */
  shed: number
  /** The caller's signal fired (`_TASK_ABORTED`). */
  aborted: number
  /** The deadline passed, queued or running (`_TASK_TIMEOUT`). */
  timedOut: number
  /** The task threw or rejected (`_TASK_FAILED`). */
  errored: number
  /** The worker thread exited mid-task (`_WORKER_CRASHED`; always 0 for a lane). */
  crashed: number
  /** Reported transitions (after flap damping, when enabled). */
  transitions: { busy: number, free: number }
}

export interface Executor extends EventEmitter {
  /** `'pool'` for the worker pool; the lane's name for a lane. */
  readonly name: string
  /** More tasks queued than free slots (after flap damping). */
  readonly busy: boolean
  /** Closing, or cannot run tasks. */
  readonly down: boolean
  /** Tasks it runs at once now, an integer: pool = ceil(maxThreads) × concurrentTasksPerWorker;
   * lane = its `concurrency` (an adaptive one moves). */
  readonly concurrency: number
  /** Whether its busy state counts in the health probe and the agent's answer. */
  readonly affectsProbe: boolean
  snapshot: () => ExecutorSnapshot
  stats: () => ExecutorStats
}

/** True for what the pool and lanes plugins decorate, false for anything else named alike (another
 * plugin may decorate `pool` too: a database pool). */
export function isExecutor (value: unknown): value is Executor {
  const candidate = value as Partial<Executor> | undefined
  return typeof candidate?.snapshot === 'function' && typeof candidate.concurrency === 'number' && typeof candidate.busy === 'boolean'
}
