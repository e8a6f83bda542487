/**
 * Prometheus metrics (prom-client) for a `BackpressurePool`, plus the same figures as Graphite paths.
 *
 * Gauges are read at scrape time, in `collect()`, never on a timer: a scrape costs one `snapshot()`
 * and one `stats()`, and an idle process does no metrics work at all. Every `collect()` of one
 * scrape reads the same cached reading (the cache lives until the current synchronous turn ends;
 * prom-client calls every metric's `collect()` in one synchronous loop), so the gauges of one scrape
 * always agree with each other, e.g. `busy` is 1 exactly when `queue_depth > idle_threads`.
 *
 * Names follow Prometheus conventions (base units, `_total` for counters, `_seconds`).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { BackpressurePool, PoolSnapshot, PoolStats } from '../pool/pool.js'
import type { GraphiteFigure } from './graphite.js'
import { MetricAlreadyRegisteredError } from '../errors.js'
import type { ExecutorStats } from '../executor/types.js'
import type { PriorityFigures, Refusal } from '../executor/engine.js'

/** Upper bounds, in seconds, of the queue-wait histogram's buckets: 1 ms to 10 s. */
export const DEFAULT_QUEUE_WAIT_BUCKETS: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

/** The reasons a task fails, as `pool.stats()` counts them; the `reason` label's values. */
export const FAILURE_REASONS = ['rejected', 'displaced', 'shed', 'aborted', 'timed_out', 'errored', 'crashed'] as const
export type FailureReason = typeof FAILURE_REASONS[number]

/** The refusals counted by priority (`Engine.priorities()`); the `reason` label's values there. */
export const REFUSALS: readonly Refusal[] = ['rejected', 'displaced', 'shed']

/** Most priority label values per executor; further priorities are summed under `priority="other"`. */
export const MAX_PRIORITY_LABELS = 10

/** One priority label's figures: `PriorityFigures` summed over the priorities it stands for. */
export interface LabelledPriority {
  queued: number
  refused: Record<Refusal, number>
}

/**
 * The `priority` label's values for one executor, bounded: each of the first `MAX_PRIORITY_LABELS`
 * distinct priorities seen (with calls waiting, or refused) keeps a label of its own (`"10"`) for
 * the life of the metrics, and its series stay, at 0 when nothing of that priority waits; any
 * priority seen after them is summed into `"other"`. Priorities are integers from -1000 to 1000,
 * so the engine's own figures are bounded too; the cap bounds what a scrape carries.
 */
export class PriorityLabels {
  readonly #labels = new Map<number, string>()
  #other = false

  /** Folds figures into labels, every label given so far included. */
  fold (figures: readonly PriorityFigures[]): Map<string, LabelledPriority> {
    for (const { priority } of figures) {
      if (!this.#labels.has(priority)) {
        if (this.#labels.size < MAX_PRIORITY_LABELS) this.#labels.set(priority, String(priority))
        else this.#other = true
      }
    }
    const folded = new Map<string, LabelledPriority>()
    const zero = (): LabelledPriority => ({ queued: 0, refused: { rejected: 0, displaced: 0, shed: 0 } })
    for (const label of this.#labels.values()) folded.set(label, zero())
    if (this.#other) folded.set('other', zero())
    for (const { priority, queued, refused } of figures) {
      const entry = folded.get(this.#labels.get(priority) ?? 'other') as LabelledPriority
      entry.queued += queued
      for (const reason of REFUSALS) entry.refused[reason] += refused[reason]
    }
    return folded
  }
}

export interface PoolMetricsOptions {
  pool: BackpressurePool
  registry: Registry
  /** Prepended to every metric name, e.g. `backpressure_`. */
  prefix: string
  /** Upper bounds of the queue-wait histogram, in seconds, ascending. */
  queueWaitBuckets: readonly number[]
}

interface Reading {
  snapshot: PoolSnapshot
  stats: PoolStats
  down: boolean
  byPriority: Map<string, LabelledPriority>
}

/** `stats()`'s failure counts under the `reason` label's names (shared with the lane metrics). */
export function failuresByReason (stats: ExecutorStats): Record<FailureReason, number> {
  return { rejected: stats.rejected, displaced: stats.displaced, shed: stats.shed, aborted: stats.aborted, timed_out: stats.timedOut, errored: stats.errored, crashed: stats.crashed }
}

export class PoolMetrics {
  /** Every metric name this instance registered, in registration order. */
  readonly names: readonly string[]
  readonly #pool: BackpressurePool
  readonly #registry: Registry
  readonly #metrics: ReadonlyArray<Gauge | Counter | Histogram>
  readonly #transitions: Counter<'to'>
  readonly #queueWait: Histogram
  readonly #transitionCount = { busy: 0, free: 0 }
  readonly #priorityLabels = new PriorityLabels()
  #waitCount = 0
  #waitSumSeconds = 0
  #reading: Reading | null = null
  readonly #clearReading = (): void => { this.#reading = null }
  readonly #onBusy = (): void => { this.#countTransition('busy') }
  readonly #onFree = (): void => { this.#countTransition('free') }
  readonly #onDispatch = (waitMs: number): void => {
    const seconds = waitMs / 1000
    this.#waitCount++
    this.#waitSumSeconds += seconds
    this.#queueWait.observe(seconds)
  }

  constructor (options: PoolMetricsOptions) {
    const { pool, registry, prefix } = options
    this.#pool = pool
    this.#registry = registry
    // Each metric reads the shared per-turn reading, so any one of them scraped alone is fresh too.
    const read = (): Reading => this.#read()
    const gauge = (name: string, help: string, value: (reading: Reading) => number): Gauge => new Gauge({
      name: prefix + name,
      help,
      registers: [],
      collect () { this.set(value(read())) }
    })

    this.#transitions = new Counter({
      name: `${prefix}pool_transitions_total`,
      help: 'Busy/free transitions of the worker pool, by the state entered (counted from the pool\'s busy/free events).',
      labelNames: ['to'] as const,
      registers: []
    })
    // Both series exist from the start, so rate() sees the first transition.
    this.#transitions.inc({ to: 'busy' }, 0)
    this.#transitions.inc({ to: 'free' }, 0)
    this.#queueWait = new Histogram({
      name: `${prefix}pool_queue_wait_seconds`,
      help: 'Time tasks waited in the queue before a thread took them, in seconds.',
      buckets: [...options.queueWaitBuckets],
      registers: []
    })

    this.#metrics = [
      gauge('pool_queue_depth', 'Tasks waiting for a worker thread.', (r) => r.snapshot.queued),
      gauge('pool_busy', '1 when more tasks are queued than threads are idle, else 0.', (r) => r.snapshot.busy ? 1 : 0),
      gauge('pool_down', '1 when the pool can no longer run tasks (it cannot start threads, or it is closed), else 0.', (r) => r.down ? 1 : 0),
      gauge('pool_threads', 'Worker threads in the pool, starting or started.', (r) => r.snapshot.threads),
      gauge('pool_idle_threads', 'Started worker threads running nothing.', (r) => r.snapshot.idleThreads),
      gauge('pool_running_tasks', 'Tasks submitted and not settled that are no longer queued.', (r) => r.snapshot.running),
      this.#transitions,
      this.#queueWait,
      new Counter({
        name: `${prefix}pool_tasks_submitted_total`,
        help: 'Tasks submitted to the pool.',
        registers: [],
        collect () { this.reset(); this.inc(read().stats.submitted) }
      }),
      new Counter({
        name: `${prefix}pool_tasks_completed_total`,
        help: 'Tasks that completed successfully.',
        registers: [],
        collect () { this.reset(); this.inc(read().stats.completed) }
      }),
      new Counter({
        name: `${prefix}pool_tasks_failed_total`,
        help: 'Tasks that failed, by reason: rejected (queue full, pool closing or down), displaced (taken out of a full queue by a task of higher priority), shed (waited in the queue past the admission target), aborted, timed_out, errored (the task threw), crashed (its thread exited).',
        labelNames: ['reason'] as const,
        registers: [],
        collect () {
          const failures = failuresByReason(read().stats)
          this.reset()
          for (const reason of FAILURE_REASONS) this.inc({ reason }, failures[reason])
        }
      }),
      new Gauge({
        name: `${prefix}pool_queue_depth_by_priority`,
        help: `Tasks waiting in the pool's own queue, by priority (at most ${MAX_PRIORITY_LABELS} priority values; later ones are summed under "other").`,
        labelNames: ['priority'] as const,
        registers: [],
        collect () {
          this.reset()
          for (const [priority, figures] of read().byPriority) this.set({ priority }, figures.queued)
        }
      }),
      new Counter({
        name: `${prefix}pool_tasks_refused_total`,
        help: `Tasks refused, by priority and reason: rejected (queue full, pool closing or down), displaced, shed (at most ${MAX_PRIORITY_LABELS} priority values; later ones are summed under "other").`,
        labelNames: ['priority', 'reason'] as const,
        registers: [],
        collect () {
          this.reset()
          for (const [priority, figures] of read().byPriority) {
            for (const reason of REFUSALS) this.inc({ priority, reason }, figures.refused[reason])
          }
        }
      })
    ]
    // The lifetime counters above mirror the pool's own totals (`stats()`): prom-client counters
    // only go up, so each collect() resets them and adds the current total back.
    this.names = this.#metrics.map((metric) => (metric as unknown as { name: string }).name)

    // Check every name first, so that a conflict registers nothing at all.
    for (const name of this.names) {
      if (registry.getSingleMetric(name) !== undefined) throw new MetricAlreadyRegisteredError(name)
    }
    for (const metric of this.#metrics) registry.registerMetric(metric)

    pool.on('busy', this.#onBusy)
    pool.on('free', this.#onFree)
    pool.on('dispatch', this.#onDispatch)
  }

  /**
   * The same figures as Graphite paths (no prefix): gauges, counters, and the queue wait as a count
   * and a sum in seconds (the histogram's `_count` and `_sum`; buckets are a Prometheus idiom).
   */
  graphiteFigures (): GraphiteFigure[] {
    const { snapshot, stats, down, byPriority } = this.#read()
    const failures = failuresByReason(stats)
    return [
      ['pool.queue_depth', snapshot.queued],
      ['pool.busy', snapshot.busy ? 1 : 0],
      ['pool.down', down ? 1 : 0],
      ['pool.threads', snapshot.threads],
      ['pool.idle_threads', snapshot.idleThreads],
      ['pool.running_tasks', snapshot.running],
      ['pool.transitions.busy', this.#transitionCount.busy],
      ['pool.transitions.free', this.#transitionCount.free],
      ['pool.queue_wait.count', this.#waitCount],
      ['pool.queue_wait.sum_seconds', this.#waitSumSeconds],
      ['pool.tasks.submitted', stats.submitted],
      ['pool.tasks.completed', stats.completed],
      ...FAILURE_REASONS.map((reason): GraphiteFigure => [`pool.tasks.failed.${reason}`, failures[reason]]),
      ...priorityFigures('pool', 'tasks', byPriority)
    ]
  }

  /** Stops listening to the pool and removes our metrics from the registry (a shared registry
   * keeps everything else), so a new app can register them again in the same process. */
  close (): void {
    this.#pool.off('busy', this.#onBusy)
    this.#pool.off('free', this.#onFree)
    this.#pool.off('dispatch', this.#onDispatch)
    for (const [index, name] of this.names.entries()) {
      if (this.#registry.getSingleMetric(name) === this.#metrics[index]) this.#registry.removeSingleMetric(name)
    }
  }

  #countTransition (to: 'busy' | 'free'): void {
    this.#transitionCount[to]++
    this.#transitions.inc({ to })
  }

  #read (): Reading {
    if (this.#reading === null) {
      this.#reading = { snapshot: this.#pool.snapshot(), stats: this.#pool.stats(), down: this.#pool.down, byPriority: this.#priorityLabels.fold(this.#pool.priorities()) }
      queueMicrotask(this.#clearReading)
    }
    return this.#reading
  }
}

/** Graphite paths of the figures by priority: `<at>.priority.<label>.queue_depth` and
 * `<at>.priority.<label>.<unit>.refused.<reason>` (shared with the lane metrics). */
export function priorityFigures (at: string, unit: string, byPriority: ReadonlyMap<string, LabelledPriority>): GraphiteFigure[] {
  const figures: GraphiteFigure[] = []
  for (const [label, { queued, refused }] of byPriority) {
    figures.push([`${at}.priority.${label}.queue_depth`, queued])
    for (const reason of REFUSALS) figures.push([`${at}.priority.${label}.${unit}.refused.${reason}`, refused[reason]])
  }
  return figures
}
