/**
 * Options of the lanes plugin, validated once when it registers; each error names the option
 * (`lanes.<name>.<option>`) and the value received.
 *
 * `lanes: { <name>: { … } }`, one entry per lane:
 *
 * | option           | default    | notes                                                              |
 * |------------------|------------|--------------------------------------------------------------------|
 * | concurrency      | (required) | calls run at once: a positive integer, or `{ adaptive: { min, max, initial } }` |
 * | maxQueue         | Infinity   | most calls waiting: an integer >= 0 (0: no waiting) or Infinity     |
 * | timeout          | 0 (none)   | default deadline per call in ms, counted from submission           |
 * | closeTimeout     | 30000 ms   | how long `app.close()` lets calls finish; Infinity = no bound      |
 * | admission        | false      | CoDel queue-wait shedding: true or { target: 5, interval: 100 } (ms) |
 * | dwell            | { busy: 0, free: 0 } | ms the raw state must hold before busy/free is reported |
 * | rejectStatusCode | 503        | status of QUEUE_FULL/QUEUE_WAIT_EXCEEDED answers: 503 or 429       |
 * | affectsProbe     | true       | whether the lane's busy state counts in the probe and the agent    |
 * | onBusy / onFree  | none       | called once per transition with the lane's snapshot               |
 *
 * Plugin-wide: `retryAfter` (default 1): `Retry-After` seconds on retryable lane errors.
 */
import type { AdaptiveLimitOptions } from '../../lib/adaptive-limit.js'
import { admissionOption, closeTimeoutOption, dwellOption, timeoutOption } from '../../lib/core/executor-options.js'
import { InvalidOptionError, describeValue } from '../../lib/errors.js'
import type { LaneOptions, LaneSnapshot } from '../../lib/lane.js'
import { booleanOption, functionOption, numberOption, objectOption, oneOfOption, rejectUnknownKeys } from '../../lib/validate.js'

export interface LaneConfig {
  /** Calls run at once: a positive integer, or `{ adaptive: { min, max, initial? } }` (the limit follows latency). */
  concurrency: number | { adaptive: { min?: number, max: number, initial?: number } }
  /** Most calls that may wait for a slot (0: none may wait). @default Infinity */
  maxQueue?: number
  /** Default deadline per call in ms, counted from submission; 0 = none. @default 0 */
  timeout?: number
  /** How long `app.close()` lets the lane's calls finish, in ms; Infinity = no bound. @default 30000 */
  closeTimeout?: number
  /** CoDel-style queue-wait admission: `true` for the defaults, or `{ target, interval }` in ms. @default false */
  admission?: boolean | { target?: number, interval?: number }
  /** Minimum time (ms) the raw state must hold before busy or free is reported. @default { busy: 0, free: 0 } */
  dwell?: { busy?: number, free?: number }
  /** HTTP status of `_QUEUE_FULL` and `_QUEUE_WAIT_EXCEEDED`. @default 503 */
  rejectStatusCode?: 503 | 429
  /** Whether this lane's busy state makes the probe and the agent answer busy. @default true */
  affectsProbe?: boolean
  /** Called once on each free → busy transition. */
  onBusy?: (snapshot: LaneSnapshot) => void
  /** Called once on each busy → free transition. */
  onFree?: (snapshot: LaneSnapshot) => void
}

export interface LanesPluginOptions {
  /** The lanes, by name. */
  lanes: Record<string, LaneConfig>
  /** `Retry-After` seconds on answers to retryable lane errors. @default 1 */
  retryAfter?: number
}

export interface NormalizedLane {
  options: LaneOptions
  onBusy: ((snapshot: LaneSnapshot) => void) | undefined
  onFree: ((snapshot: LaneSnapshot) => void) | undefined
}

export interface NormalizedLanesOptions {
  lanes: NormalizedLane[]
  retryAfter: number
}

const LANE_KEYS: ReadonlySet<string> = new Set([
  'concurrency', 'maxQueue', 'timeout', 'closeTimeout', 'admission', 'dwell', 'rejectStatusCode', 'affectsProbe', 'onBusy', 'onFree'
])
/** Lane names become metric labels and log fields: keep them plain. */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/

function concurrencyOption (prefix: string, value: unknown): number | { adaptive: AdaptiveLimitOptions } {
  const option = `${prefix}.concurrency`
  if (typeof value === 'number' || value === undefined) {
    if (value === undefined) throw new InvalidOptionError(option, 'a positive integer or { adaptive: { min, max } }', describeValue(value))
    return numberOption(option, value, 1, { integer: true, min: 1 })
  }
  const outer = objectOption(option, value)
  rejectUnknownKeys(option, outer, new Set(['adaptive']))
  const adaptive = objectOption(`${option}.adaptive`, outer.adaptive)
  rejectUnknownKeys(`${option}.adaptive`, adaptive, new Set(['min', 'max', 'initial']))
  const positive = { integer: true, min: 1 }
  const min = numberOption(`${option}.adaptive.min`, adaptive.min, 1, positive)
  if (adaptive.max === undefined) throw new InvalidOptionError(`${option}.adaptive.max`, `an integer >= ${min}`, describeValue(adaptive.max))
  const max = numberOption(`${option}.adaptive.max`, adaptive.max, min, { integer: true, min })
  const initial = adaptive.initial === undefined ? undefined : numberOption(`${option}.adaptive.initial`, adaptive.initial, min, { integer: true, min, max })
  return { adaptive: { min, max, initial } }
}

function normalizeLane (name: string, raw: unknown): NormalizedLane {
  const prefix = `lanes.${name}`
  if (!NAME.test(name)) throw new InvalidOptionError(prefix, `a lane name matching ${String(NAME)}`, describeValue(name))
  const options = objectOption(prefix, raw)
  rejectUnknownKeys(prefix, options, LANE_KEYS)
  return {
    options: {
      name,
      concurrency: concurrencyOption(prefix, options.concurrency),
      maxQueue: numberOption(`${prefix}.maxQueue`, options.maxQueue, Infinity, { integer: true, min: 0, allowInfinity: true }),
      timeoutMs: timeoutOption(prefix, options.timeout),
      closeTimeoutMs: closeTimeoutOption(prefix, options.closeTimeout),
      admission: admissionOption(prefix, options.admission),
      dwell: dwellOption(prefix, options.dwell),
      rejectStatusCode: oneOfOption(`${prefix}.rejectStatusCode`, options.rejectStatusCode, 503, [503, 429] as const),
      affectsProbe: booleanOption(`${prefix}.affectsProbe`, options.affectsProbe, true)
    },
    onBusy: functionOption(`${prefix}.onBusy`, options.onBusy),
    onFree: functionOption(`${prefix}.onFree`, options.onFree)
  }
}

export function normalizeLanesOptions (raw: unknown): NormalizedLanesOptions {
  const options = objectOption('lanes', raw)
  rejectUnknownKeys('lanes', options, new Set(['lanes', 'retryAfter']))
  const lanes = objectOption('lanes.lanes', options.lanes)
  const names = Object.keys(lanes)
  if (names.length === 0) throw new InvalidOptionError('lanes', 'at least one lane ({ <name>: { concurrency } })', describeValue(options.lanes))
  return {
    lanes: names.map((name) => normalizeLane(name, lanes[name])),
    retryAfter: numberOption('lanes.retryAfter', options.retryAfter, 1, { integer: true, min: 0 })
  }
}
