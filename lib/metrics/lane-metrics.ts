/**
 * Prometheus metrics (prom-client) for lanes: the pool's gauges and counters (lib/metrics/pool-metrics.ts),
 * one series per lane, labelled `{lane="upstream"}`, plus the lane's current concurrency; and the
 * same figures as Graphite paths (`lanes.<name>.…`).
 *
 * As for the pool, gauges and counters are read at scrape time from one reading per synchronous
 * turn (every lane's `snapshot()` and `stats()` once), so the series of one scrape agree.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { MetricAlreadyRegisteredError } from '../errors.js'
import type { GraphiteFigure } from './graphite.js'
import type { Lane, LaneSnapshot, LaneStats } from '../lane/lane.js'
import { FAILURE_REASONS, MAX_PRIORITY_LABELS, PriorityLabels, REFUSALS, failuresByReason, priorityFigures, type LabelledPriority } from './pool-metrics.js'

export interface LaneMetricsOptions {
  lanes: readonly Lane[]
  registry: Registry
  /** Prepended to every metric name, e.g. `backpressure_`. */
  prefix: string
  /** Upper bounds of the queue-wait histogram, in seconds, ascending. */
  queueWaitBuckets: readonly number[]
}

interface Reading { lane: Lane, snapshot: LaneSnapshot, stats: LaneStats, byPriority: Map<string, LabelledPriority> }

type Metric = Gauge<'lane'> | Gauge<'lane' | 'priority'> | Counter<'lane'> | Counter<'lane' | 'to'> | Counter<'lane' | 'reason'> | Counter<'lane' | 'priority' | 'reason'> | Histogram<'lane'>

export class LaneMetrics {
  readonly names: readonly string[]
  readonly #lanes: readonly Lane[]
  readonly #registry: Registry
  readonly #metrics: readonly Metric[]
  readonly #transitions: Counter<'lane' | 'to'>
  readonly #queueWait: Histogram<'lane'>
  readonly #waits = new Map<string, { count: number, sumSeconds: number }>()
  readonly #listeners: Array<() => void> = []
  /** The priority labels of each lane, bounded per lane. */
  readonly #priorityLabels = new Map<Lane, PriorityLabels>()
  #readings: Reading[] | null = null
  readonly #clearReadings = (): void => { this.#readings = null }

  constructor ({ lanes, registry, prefix, queueWaitBuckets }: LaneMetricsOptions) {
    this.#lanes = lanes
    this.#registry = registry
    const read = (): Reading[] => this.#read()
    const gauge = (name: string, help: string, value: (reading: Reading) => number): Gauge<'lane'> => new Gauge({
      name: prefix + name,
      help,
      labelNames: ['lane'] as const,
      registers: [],
      collect () { for (const r of read()) this.set({ lane: r.lane.name }, value(r)) }
    })
    const total = (name: string, help: string, value: (stats: LaneStats) => number): Counter<'lane'> => new Counter({
      name: prefix + name,
      help,
      labelNames: ['lane'] as const,
      registers: [],
      collect () { this.reset(); for (const r of read()) this.inc({ lane: r.lane.name }, value(r.stats)) }
    })
    this.#transitions = new Counter({
      name: `${prefix}lane_transitions_total`,
      help: 'Busy/free transitions of each lane, by the state entered.',
      labelNames: ['lane', 'to'] as const,
      registers: []
    })
    this.#queueWait = new Histogram({
      name: `${prefix}lane_queue_wait_seconds`,
      help: 'Time tasks waited for a slot in each lane, in seconds.',
      labelNames: ['lane'] as const,
      buckets: [...queueWaitBuckets],
      registers: []
    })
    this.#metrics = [
      gauge('lane_queue_depth', 'Tasks waiting for a slot in each lane.', (r) => r.snapshot.queued),
      gauge('lane_busy', '1 when more tasks are queued than slots are free in the lane, else 0.', (r) => r.snapshot.busy ? 1 : 0),
      gauge('lane_down', '1 when the lane is closing, else 0.', (r) => r.lane.down ? 1 : 0),
      gauge('lane_concurrency', 'Tasks the lane runs at once now (its fixed or adaptive concurrency).', (r) => r.snapshot.concurrency),
      gauge('lane_running_tasks', 'Tasks submitted and not settled that are no longer queued.', (r) => r.snapshot.running),
      this.#transitions,
      this.#queueWait,
      total('lane_tasks_submitted_total', 'Tasks submitted to each lane.', (s) => s.submitted),
      total('lane_tasks_completed_total', 'Tasks that completed successfully.', (s) => s.completed),
      new Counter({
        name: `${prefix}lane_tasks_failed_total`,
        help: 'Tasks that failed, by lane and reason: rejected (queue full, lane closing), displaced (taken out of a full queue by a task of higher priority), shed, aborted, timed_out, errored (the function threw).',
        labelNames: ['lane', 'reason'] as const,
        registers: [],
        collect () {
          this.reset()
          for (const r of read()) {
            const failures = failuresByReason(r.stats)
            for (const reason of FAILURE_REASONS) if (reason !== 'crashed') this.inc({ lane: r.lane.name, reason }, failures[reason])
          }
        }
      }),
      new Gauge({
        name: `${prefix}lane_queue_depth_by_priority`,
        help: `Tasks waiting for a slot in each lane, by priority (at most ${MAX_PRIORITY_LABELS} priority values per lane; later ones are summed under "other").`,
        labelNames: ['lane', 'priority'] as const,
        registers: [],
        collect () {
          this.reset()
          for (const r of read()) for (const [priority, figures] of r.byPriority) this.set({ lane: r.lane.name, priority }, figures.queued)
        }
      }),
      new Counter({
        name: `${prefix}lane_tasks_refused_total`,
        help: `Tasks refused, by lane, priority and reason: rejected (queue full, lane closing), displaced, shed (at most ${MAX_PRIORITY_LABELS} priority values per lane; later ones are summed under "other").`,
        labelNames: ['lane', 'priority', 'reason'] as const,
        registers: [],
        collect () {
          this.reset()
          for (const r of read()) {
            for (const [priority, figures] of r.byPriority) {
              for (const reason of REFUSALS) this.inc({ lane: r.lane.name, priority, reason }, figures.refused[reason])
            }
          }
        }
      })
    ]
    this.names = this.#metrics.map((metric) => (metric as unknown as { name: string }).name)
    for (const name of this.names) {
      if (registry.getSingleMetric(name) !== undefined) throw new MetricAlreadyRegisteredError(name)
    }
    for (const metric of this.#metrics) registry.registerMetric(metric)

    for (const lane of lanes) {
      this.#priorityLabels.set(lane, new PriorityLabels())
      const waits = { count: 0, sumSeconds: 0 }
      this.#waits.set(lane.name, waits)
      // Both series exist from the start, so rate() sees the first transition.
      this.#transitions.inc({ lane: lane.name, to: 'busy' }, 0)
      this.#transitions.inc({ lane: lane.name, to: 'free' }, 0)
      const onBusy = (): void => { this.#transitions.inc({ lane: lane.name, to: 'busy' }) }
      const onFree = (): void => { this.#transitions.inc({ lane: lane.name, to: 'free' }) }
      const onDispatch = (waitMs: number): void => {
        waits.count++
        waits.sumSeconds += waitMs / 1000
        this.#queueWait.observe({ lane: lane.name }, waitMs / 1000)
      }
      lane.on('busy', onBusy)
      lane.on('free', onFree)
      lane.on('dispatch', onDispatch)
      this.#listeners.push(() => {
        lane.off('busy', onBusy)
        lane.off('free', onFree)
        lane.off('dispatch', onDispatch)
      })
    }
  }

  /** The same figures as Graphite paths (no prefix), `lanes.<name>.<figure>`. */
  graphiteFigures (): GraphiteFigure[] {
    const figures: GraphiteFigure[] = []
    for (const { lane, snapshot, stats, byPriority } of this.#read()) {
      const at = `lanes.${lane.name}`
      const waits = this.#waits.get(lane.name) as { count: number, sumSeconds: number }
      const failures = failuresByReason(stats)
      figures.push(
        [`${at}.queue_depth`, snapshot.queued],
        [`${at}.busy`, snapshot.busy ? 1 : 0],
        [`${at}.down`, lane.down ? 1 : 0],
        [`${at}.concurrency`, snapshot.concurrency],
        [`${at}.running_tasks`, snapshot.running],
        [`${at}.transitions.busy`, stats.transitions.busy],
        [`${at}.transitions.free`, stats.transitions.free],
        [`${at}.queue_wait.count`, waits.count],
        [`${at}.queue_wait.sum_seconds`, waits.sumSeconds],
        [`${at}.tasks.submitted`, stats.submitted],
        [`${at}.tasks.completed`, stats.completed],
        ...FAILURE_REASONS.filter((reason) => reason !== 'crashed').map((reason): GraphiteFigure => [`${at}.tasks.failed.${reason}`, failures[reason]]),
        ...priorityFigures(at, 'tasks', byPriority)
      )
    }
    return figures
  }

  /** Stops listening to the lanes and removes our metrics from the registry. */
  close (): void {
    for (const off of this.#listeners) off()
    for (const [index, name] of this.names.entries()) {
      if (this.#registry.getSingleMetric(name) === this.#metrics[index]) this.#registry.removeSingleMetric(name)
    }
  }

  #read (): Reading[] {
    if (this.#readings === null) {
      this.#readings = this.#lanes.map((lane) => ({
        lane,
        snapshot: lane.snapshot(),
        stats: lane.stats(),
        byPriority: (this.#priorityLabels.get(lane) as PriorityLabels).fold(lane.priorities())
      }))
      queueMicrotask(this.#clearReadings)
    }
    return this.#readings
  }
}
