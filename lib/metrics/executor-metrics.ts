/**
 * Prometheus metrics (prom-client) of the executors, built from one list of series: the worker pool
 * as `<prefix>pool_*`, the lanes as `<prefix>lane_*{lane}` (one series per lane). An
 * `ExecutorFamily` (`POOL`, `LANES`) says what differs: the names' first word, the help texts'
 * words, the gauges only one of them has, and the failure reasons a lane cannot have. The same
 * figures go to Graphite through `graphitePath()`, derived from the series' names and labels.
 *
 * Do not break:
 * - names, labels and Graphite paths are public (docs/metrics.md);
 * - everything but the queue-wait histogram mirrors the executor's own figures (`snapshot()`,
 *   `stats()`, `priorities()`), read in `collect()` at scrape time, never on a timer; counters are
 *   reset and set to the executor's lifetime totals (prom-client counters only go up). Transitions
 *   are counted by the engine alone; the histogram is fed by the `dispatch` event;
 * - one reading per synchronous turn: prom-client calls every `collect()` of a scrape in one loop,
 *   so the series of one scrape agree (`busy` is 1 exactly when `queue_depth > idle_threads`), and a
 *   metric read alone still reads the executor at that moment.
 */
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client'
import type { PriorityFigures, Refusal } from '../executor/engine.js'
import type { ExecutorSnapshot, ExecutorStats } from '../executor/types.js'
import type { LaneSnapshot } from '../lane/lane.js'
import type { PoolSnapshot } from '../pool/pool.js'
import type { GraphiteFigure } from './graphite.js'
import { register, type Registration } from './registration.js'

/** Upper bounds, in seconds, of the queue-wait histogram's buckets: 1 ms to 10 s. */
export const DEFAULT_QUEUE_WAIT_BUCKETS: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])

/** The `reason` label's values of `tasks_failed_total`, with the `stats()` field each one reads. */
const FAILURES = {
  rejected: 'rejected',
  displaced: 'displaced',
  shed: 'shed',
  aborted: 'aborted',
  timed_out: 'timedOut',
  errored: 'errored',
  crashed: 'crashed'
} as const satisfies Record<string, keyof ExecutorStats>
export type FailureReason = keyof typeof FAILURES
export const FAILURE_REASONS = Object.keys(FAILURES) as readonly FailureReason[]

/** The refusals counted by priority (`Engine.priorities()`); the `reason` label's values there. */
export const REFUSALS: readonly Refusal[] = ['rejected', 'displaced', 'shed']

/** Most priority label values per executor; further priorities are summed under `priority="other"`. */
export const MAX_PRIORITY_LABELS = 10

/** What the metrics read of an executor; the pool and each lane have all of it. */
export interface MeasuredExecutor<S extends ExecutorSnapshot> {
  readonly name: string
  readonly down: boolean
  snapshot (): S
  stats (): ExecutorStats
  priorities (): PriorityFigures[]
  on (event: 'dispatch', listener: (waitMs: number) => void): unknown
  off (event: 'dispatch', listener: (waitMs: number) => void): unknown
}

/** What differs between the pool's series and the lanes'. */
export interface ExecutorFamily<S extends ExecutorSnapshot> {
  /** The names' first word after the prefix. A `lane` family labels every series `{lane}`. */
  readonly kind: 'pool' | 'lane'
  /** Words of the help texts. */
  readonly words: {
    /** Who the figures are of: `the worker pool`. */
    owner: string
    /** What a task waits for: `a worker thread`. */
    slot: string
    /** When busy holds: `more tasks are queued than <free>`. */
    free: string
    /** What makes it down. */
    down: string
    /** What `rejected` means. */
    rejected: string
  }
  /** Gauges only this family has, listed after `down`: name (after the first word), help, value. */
  readonly gauges: ReadonlyArray<readonly [name: string, help: string, value: (snapshot: S) => number]>
  /** The `reason` label's values of `tasks_failed_total`. */
  readonly reasons: readonly FailureReason[]
}

export const POOL: ExecutorFamily<PoolSnapshot> = {
  kind: 'pool',
  words: {
    owner: 'the worker pool',
    slot: 'a worker thread',
    free: 'threads are idle',
    down: 'it cannot start threads, or it is closing',
    rejected: 'queue full, pool closing or down'
  },
  gauges: [
    ['threads', 'Worker threads in the pool, starting or started.', (snapshot) => snapshot.threads],
    ['idle_threads', 'Started worker threads running nothing.', (snapshot) => snapshot.idleThreads]
  ],
  reasons: FAILURE_REASONS
}

export const LANES: ExecutorFamily<LaneSnapshot> = {
  kind: 'lane',
  words: {
    owner: 'each lane',
    slot: 'a slot in each lane',
    free: 'slots are free in the lane',
    down: 'it is closing',
    rejected: 'queue full, lane closing'
  },
  gauges: [
    ['concurrency', 'Tasks the lane runs at once now (its fixed or adaptive concurrency).', (snapshot) => snapshot.concurrency]
  ],
  // A lane runs on the main thread: no thread to crash.
  reasons: FAILURE_REASONS.filter((reason) => reason !== 'crashed')
}

/** One priority label's figures: `PriorityFigures` summed over the priorities it stands for. */
export interface LabelledPriority {
  queued: number
  refused: Record<Refusal, number>
}

/**
 * The `priority` label's values for one executor, bounded: each of the first `MAX_PRIORITY_LABELS`
 * distinct priorities seen (with tasks waiting, or refused) keeps a label of its own (`"10"`) for
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

export interface ExecutorMetricsOptions {
  registry: Registry
  /** Prepended to every metric name, e.g. `backpressure_`. */
  prefix: string
  /** Upper bounds of the queue-wait histogram, in seconds, ascending. */
  queueWaitBuckets: readonly number[]
}

type Labels = Record<string, string>
/** Label values (beside the executor's own) and the value of each series one executor has. */
type Samples<S extends ExecutorSnapshot> = (reading: Reading<S>) => Iterable<readonly [Labels, number]>

interface Measured<S extends ExecutorSnapshot> {
  executor: MeasuredExecutor<S>
  /** `{}` for the pool, `{ lane: name }` for a lane. */
  labels: Labels
  priorityLabels: PriorityLabels
  onDispatch: (waitMs: number) => void
}

interface Reading<S extends ExecutorSnapshot> {
  labels: Labels
  executor: MeasuredExecutor<S>
  snapshot: S
  stats: ExecutorStats
  byPriority: Map<string, LabelledPriority>
}

const NO_LABELS: Labels = Object.freeze({})

export class ExecutorMetrics<S extends ExecutorSnapshot> {
  /** Every metric name registered, in registration order. */
  readonly names: readonly string[]
  readonly #kind: ExecutorFamily<S>['kind']
  /** The names' common start: prefix and first word (`backpressure_pool_`). */
  readonly #stem: string
  readonly #metrics: readonly Metric[]
  readonly #registration: Registration
  readonly #measured: ReadonlyArray<Measured<S>>
  #readings: Array<Reading<S>> | null = null
  readonly #clearReadings = (): void => { this.#readings = null }

  constructor (family: ExecutorFamily<S>, executors: ReadonlyArray<MeasuredExecutor<S>>, { registry, prefix, queueWaitBuckets }: ExecutorMetricsOptions) {
    const { kind, words: w } = family
    this.#kind = kind
    this.#stem = `${prefix}${kind}_`
    const own = kind === 'lane' ? ['lane'] : []
    const read = (): Array<Reading<S>> => this.#read()
    const one = (value: (reading: Reading<S>) => number): Samples<S> => (reading) => [[NO_LABELS, value(reading)]]
    // A gauge is set, a counter (which only goes up) reset and incremented to the lifetime total.
    const mirror = <M extends Gauge | Counter>(make: (config: { name: string, help: string, labelNames: string[], registers: Registry[], collect: () => void }) => M, write: (metric: M, labels: Record<string, string>, value: number) => void) =>
      (name: string, help: string, labelNames: string[], samples: Samples<S>): M => {
        const metric: M = make({
          name: this.#stem + name,
          help,
          labelNames: [...own, ...labelNames],
          registers: [],
          collect () {
            metric.reset()
            for (const reading of read()) for (const [labels, value] of samples(reading)) write(metric, { ...reading.labels, ...labels }, value)
          }
        })
        return metric
      }
    const gauge = mirror((config) => new Gauge(config), (metric, labels, value) => { metric.set(labels, value) })
    const total = mirror((config) => new Counter(config), (metric, labels, value) => { metric.inc(labels, value) })
    const queueWait = new Histogram({
      name: `${this.#stem}queue_wait_seconds`,
      help: `Time tasks waited for ${w.slot}, in seconds.`,
      labelNames: own,
      buckets: [...queueWaitBuckets],
      registers: []
    })
    const priorityNote = `at most ${MAX_PRIORITY_LABELS} priority values each; later ones are summed under "other"`
    const reasonHelp: Record<FailureReason, string> = {
      rejected: `rejected (${w.rejected})`,
      displaced: 'displaced (taken out of a full queue by a task of higher priority)',
      shed: 'shed (waited in the queue past the admission target)',
      aborted: 'aborted',
      timed_out: 'timed_out',
      errored: 'errored (the task threw)',
      crashed: 'crashed (its thread exited)'
    }

    this.#metrics = [
      gauge('queue_depth', `Tasks waiting for ${w.slot}.`, [], one((r) => r.snapshot.queued)),
      gauge('busy', `1 when more tasks are queued than ${w.free}, else 0.`, [], one((r) => r.snapshot.busy ? 1 : 0)),
      gauge('down', `1 when it can no longer run tasks (${w.down}), else 0.`, [], one((r) => r.executor.down ? 1 : 0)),
      ...family.gauges.map(([name, help, value]) => gauge(name, help, [], one((r) => value(r.snapshot)))),
      gauge('running_tasks', 'Tasks submitted and not settled that are no longer queued.', [], one((r) => r.snapshot.running)),
      // Both series exist from the start, so rate() sees the first transition.
      total('transitions_total', `Busy/free transitions of ${w.owner}, by the state entered.`, ['to'],
        (r) => [[{ to: 'busy' }, r.stats.transitions.busy], [{ to: 'free' }, r.stats.transitions.free]]),
      queueWait,
      total('tasks_submitted_total', `Tasks submitted to ${w.owner}.`, [], one((r) => r.stats.submitted)),
      total('tasks_completed_total', 'Tasks that completed successfully.', [], one((r) => r.stats.completed)),
      total('tasks_failed_total', `Tasks that failed, by reason: ${family.reasons.map((reason) => reasonHelp[reason]).join(', ')}.`, ['reason'],
        (r) => family.reasons.map((reason) => [{ reason }, r.stats[FAILURES[reason]]])),
      gauge('queue_depth_by_priority', `Tasks waiting for ${w.slot}, by priority (${priorityNote}).`, ['priority'],
        (r) => [...r.byPriority].map(([priority, figures]) => [{ priority }, figures.queued])),
      total('tasks_refused_total', `Tasks refused, by priority and reason: rejected (${w.rejected}), displaced, shed (${priorityNote}).`, ['priority', 'reason'],
        (r) => [...r.byPriority].flatMap(([priority, figures]) => REFUSALS.map((reason) => [{ priority, reason }, figures.refused[reason]] as const)))
    ]
    this.#registration = register(registry, this.#metrics)
    this.names = this.#registration.names

    this.#measured = executors.map((executor) => {
      const labels: Labels = kind === 'lane' ? { lane: executor.name } : NO_LABELS
      // Every executor's histogram series exists from the start, as the counters' do.
      queueWait.zero(labels)
      const onDispatch = (waitMs: number): void => { queueWait.observe(labels, waitMs / 1000) }
      executor.on('dispatch', onDispatch)
      return { executor, labels, priorityLabels: new PriorityLabels(), onDispatch }
    })
  }

  /** The same figures as Graphite paths (no prefix), read from the metrics themselves. */
  async graphiteFigures (): Promise<GraphiteFigure[]> {
    // Every get() calls its collect() before its first await: one turn, one reading.
    const metrics = await Promise.all(this.#metrics.map(async (metric) => await metric.get()))
    const figures: GraphiteFigure[] = []
    for (const metric of metrics) {
      const series = metric.name.slice(this.#stem.length)
      for (const sample of metric.values) {
        const path = graphitePath(this.#kind, series, sample)
        if (path !== undefined) figures.push([path, sample.value])
      }
    }
    return figures
  }

  /** Stops listening to the executors and removes our metrics from the registry (a shared
   * registry keeps everything else), so a new app can register them again in the same process. */
  close (): void {
    for (const { executor, onDispatch } of this.#measured) executor.off('dispatch', onDispatch)
    this.#registration.remove()
  }

  #read (): Array<Reading<S>> {
    if (this.#readings === null) {
      this.#readings = this.#measured.map(({ executor, labels, priorityLabels }) => ({
        labels,
        executor,
        snapshot: executor.snapshot(),
        stats: executor.stats(),
        byPriority: priorityLabels.fold(executor.priorities())
      }))
      queueMicrotask(this.#clearReadings)
    }
    return this.#readings
  }
}

/**
 * The Graphite path of one sample of an executor series (`series`: the name after
 * `<prefix><kind>_`), or undefined for what is not pushed:
 * - the pool's paths start with `pool`, a lane's with `lanes.<lane>`;
 * - a `priority` label comes next, as `priority.<value>`;
 * - then the name, `_total` and `_by_priority` dropped, `tasks_<what>` as `tasks.<what>`;
 * - then the value of any other label (`to`, `reason`);
 * - a histogram `<name>_<unit>` pushes only its count and sum, as `<name>.count` and
 *   `<name>.sum_<unit>` (buckets are a Prometheus idiom).
 * So `lane_tasks_refused_total{lane="db",priority="5",reason="shed"}` is
 * `lanes.db.priority.5.tasks.refused.shed`.
 */
export function graphitePath (kind: 'pool' | 'lane', series: string, sample: { labels: Partial<Record<string, string | number>>, metricName?: string }): string | undefined {
  const { lane, priority, ...others } = sample.labels
  let name: string
  if (sample.metricName === undefined) {
    name = series.replace(/_total$|_by_priority$/, '').replace(/^tasks_/, 'tasks.')
  } else {
    // A histogram's sample: `<series>_bucket`, `_sum` or `_count`.
    const part = /_(count|sum)$/.exec(sample.metricName)?.[1]
    if (part === undefined) return undefined
    const unit = series.slice(series.lastIndexOf('_') + 1)
    name = `${series.slice(0, -unit.length - 1)}.${part === 'count' ? 'count' : `sum_${unit}`}`
  }
  const nodes = [kind === 'pool' ? 'pool' : `lanes.${String(lane)}`]
  if (priority !== undefined) nodes.push(`priority.${priority}`)
  nodes.push(name, ...Object.values(others).map(String))
  return nodes.join('.')
}
