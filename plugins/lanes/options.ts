/**
 * Options of the lanes plugin: `{ lanes: { <name>: LaneOptions } }`, the same map as the umbrella's
 * `lanes`. The declarations below are each option's documentation (docs/options.md is generated
 * from them).
 */
import type { AdaptiveLimitOptions } from '../../lib/lane/adaptive.js'
import { EXECUTOR_KEYS, executorOptions, maxQueueOption, type ExecutorOptions } from '../../lib/executor/options.js'
import { InvalidOptionError } from '../../lib/errors.js'
import type { LaneSettings, LaneSnapshot } from '../../lib/lane/lane.js'
import { booleanOption, describeValue, functionOption, numberOption, objectOption, rejectUnknownKeys } from '../../lib/options.js'

/** One lane: `lanes: { upstream: { concurrency: 16, maxQueue: 64, timeout: 2000 } }`. */
export interface LaneOptions extends ExecutorOptions {
  /** Tasks run at once: a positive integer, or `{ adaptive: { min, max, initial } }` (the
   * concurrency follows latency, docs/lanes.md).
   * @default (required) */
  concurrency: number | {
    /** A concurrency that follows latency, between `min` and `max`.
     * @default (required) */
    adaptive: AdaptiveConcurrencyOptions
  }
  /** Most tasks that may wait for a slot: an integer >= 0 (0: none may wait) or `Infinity`. One more
   * is refused with `FST_BACKPRESSURE_QUEUE_FULL`.
   * @default Infinity */
  maxQueue?: number
  /** Whether this lane's busy state makes the probe and the agent answer busy (and counts in the
   * agent's weight and `maxconn`).
   * @default true */
  affectsProbe?: boolean
  /** Called once on each free → busy transition, with the lane's snapshot.
   * @default none */
  onBusy?: (snapshot: LaneSnapshot) => void
  /** Called once on each busy → free transition, with the lane's snapshot.
   * @default none */
  onFree?: (snapshot: LaneSnapshot) => void
}

export interface AdaptiveConcurrencyOptions {
  /** The lowest concurrency, an integer >= 1.
   * @default 1 */
  min?: number
  /** The highest concurrency, an integer >= `min`.
   * @default (required) */
  max: number
  /** The concurrency to start at, from `min` to `max`.
   * @default min(max, max(min, 10)) */
  initial?: number
}

export interface LanesPluginOptions {
  /** The lanes, by name (a metric label: letters, digits, `_` and `-`, at most 64).
   * @default (required) */
  lanes: Record<string, LaneOptions>
}

export interface NormalizedLane extends LaneSettings {
  onBusy: ((snapshot: LaneSnapshot) => void) | undefined
  onFree: ((snapshot: LaneSnapshot) => void) | undefined
}

const LANE_KEYS: readonly string[] = ['concurrency', 'maxQueue', ...EXECUTOR_KEYS, 'affectsProbe', 'onBusy', 'onFree']
/** Lane names become metric labels and log fields: keep them plain. */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/

function concurrencyOption (prefix: string, value: unknown): number | { adaptive: AdaptiveLimitOptions } {
  const option = `${prefix}.concurrency`
  if (typeof value === 'number' || value === undefined) {
    if (value === undefined) throw new InvalidOptionError(option, 'a positive integer or { adaptive: { min, max } }', describeValue(value))
    return numberOption(option, value, 1, { integer: true, min: 1 })
  }
  const outer = objectOption(option, value)
  rejectUnknownKeys(option, outer, ['adaptive'])
  const adaptive = objectOption(`${option}.adaptive`, outer.adaptive)
  rejectUnknownKeys(`${option}.adaptive`, adaptive, ['min', 'max', 'initial'])
  const positive = { integer: true, min: 1 }
  const min = numberOption(`${option}.adaptive.min`, adaptive.min, 1, positive)
  if (adaptive.max === undefined) throw new InvalidOptionError(`${option}.adaptive.max`, `an integer >= ${min}`, describeValue(adaptive.max))
  const max = numberOption(`${option}.adaptive.max`, adaptive.max, min, { integer: true, min })
  const initial = adaptive.initial === undefined ? undefined : numberOption(`${option}.adaptive.initial`, adaptive.initial, min, { integer: true, min, max })
  return { adaptive: { min, max, initial } }
}

/** Checks one lane's options; `lanes.<name>` is the path errors name. */
export function normalizeLane (name: string, raw: unknown): NormalizedLane {
  const prefix = `lanes.${name}`
  if (!NAME.test(name)) throw new InvalidOptionError(prefix, `a lane name matching ${String(NAME)}`, describeValue(name))
  if (LANE_KEYS.includes(name) && (raw === null || typeof raw !== 'object')) {
    // `lanes: { retryAfter: 5 }`: an option where a lane belongs. Every option is a lane's own.
    throw new InvalidOptionError(prefix, `a lane's options ({ concurrency, … }); "${name}" is set per lane, as lanes.<name>.${name}`, describeValue(raw))
  }
  const options = objectOption(prefix, raw)
  rejectUnknownKeys(prefix, options, LANE_KEYS)
  return {
    name,
    concurrency: concurrencyOption(prefix, options.concurrency),
    maxQueue: maxQueueOption(`${prefix}.maxQueue`, options.maxQueue),
    ...executorOptions(prefix, options),
    affectsProbe: booleanOption(`${prefix}.affectsProbe`, options.affectsProbe, true),
    onBusy: functionOption(`${prefix}.onBusy`, options.onBusy),
    onFree: functionOption(`${prefix}.onFree`, options.onFree)
  }
}

/** Checks the lanes map (`lanes: { <name>: { … } }`): the umbrella's `lanes`, the plugin's `lanes`. */
export function normalizeLanes (raw: unknown): NormalizedLane[] {
  const lanes = objectOption('lanes', raw)
  const names = Object.keys(lanes)
  if (names.length === 0) throw new InvalidOptionError('lanes', 'at least one lane ({ <name>: { concurrency } })', describeValue(raw))
  return names.map((name) => normalizeLane(name, lanes[name]))
}

/** Checks the lanes plugin's options: `{ lanes }`. */
export function normalizeLanesOptions (raw: unknown): NormalizedLane[] {
  const options = objectOption('options', raw)
  for (const key of Object.keys(options)) {
    if (key !== 'lanes' && LANE_KEYS.includes(key)) {
      throw new InvalidOptionError(key, `no option of the lanes plugin itself; "${key}" is set per lane, as lanes.<name>.${key}`, describeValue(options[key]))
    }
  }
  rejectUnknownKeys('', options, ['lanes'])
  if (options.lanes === undefined) throw new InvalidOptionError('lanes', 'the lanes by name ({ <name>: { concurrency } })', 'undefined')
  return normalizeLanes(options.lanes)
}
