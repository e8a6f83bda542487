/**
 * The options of one `run()` call (`signal`, `timeout`, `priority`), checked before anything is
 * counted or queued, for the pool and for every lane alike. A bad value rejects that call with `FST_BACKPRESSURE_INVALID_OPTION` naming
 * `run.<option>`; the executor's counts are untouched (the call was never submitted).
 *
 * Why per call and not only at registration: a `signal` that is not an AbortSignal would otherwise
 * throw inside the executor after the task was counted (a phantom task in flight forever), and a
 * `timeout` of -1, NaN or null would silently switch off the default deadline, and one above
 * 2³¹ − 1 ms would fire after 1 ms (Node's timer overflow).
 */
import { InvalidOptionError } from '../errors.js'
import { MAX_TIMER_MS, describeValue } from '../validate.js'

/** The lowest and highest priorities a call may have, and the default. */
export const MIN_PRIORITY = -1000
export const MAX_PRIORITY = 1000
export const DEFAULT_PRIORITY = 0

/** The `priority` option, shared by the pool's and the lanes' run options. */
export interface PriorityOption {
  /**
   * How important the call is, an integer from -1000 to 1000: higher starts first (FIFO among
   * equals), and when the queue is full a call of higher priority than the lowest waiting one
   * takes the place of the newest call of that priority (docs/priorities.md). `undefined`: the
   * route's `config.backpressure.priority` for `request.runInPool()` and `request.runInLane()`,
   * else 0.
   * @default 0
   */
  priority?: number | undefined
}

/** A route's options for the calls it makes (Fastify's route `config.backpressure`). */
export interface RouteBackpressureConfig extends PriorityOption {}

export interface CheckedRunOptions {
  signal: AbortSignal | undefined
  /** Deadline in ms from submission; 0 = none. */
  timeoutMs: number
  priority: number
}

/** What a call without options gets: no signal, the executor's default deadline, the default
 * priority. One frozen object per executor, returned as is for every such call (no allocation). */
export function defaultRunOptions (defaultTimeoutMs: number): Readonly<CheckedRunOptions> {
  return Object.freeze({ signal: undefined, timeoutMs: defaultTimeoutMs, priority: DEFAULT_PRIORITY })
}

/** Checks `signal`, `timeout` (`0` or `Infinity` = no deadline; undefined = the default's) and
 * `priority` (undefined = 0); `options` undefined: `defaults` itself. */
export function checkRunOptions (options: unknown, defaults: Readonly<CheckedRunOptions>): Readonly<CheckedRunOptions> {
  if (options === undefined) return defaults
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('run.options', 'an object', describeValue(options))
  }
  const { signal, timeout, priority } = options as { signal?: unknown, timeout?: unknown, priority?: unknown }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('run.signal', 'an AbortSignal', describeValue(signal))
  }
  return { signal, timeoutMs: checkTimeout(timeout, defaults.timeoutMs), priority: priority === undefined ? DEFAULT_PRIORITY : checkPriority('run.priority', priority) }
}

/** A priority: an integer from MIN_PRIORITY to MAX_PRIORITY (`null`, NaN and fractions refused). */
export function checkPriority (option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) {
    throw new InvalidOptionError(option, `an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher first; undefined: the default)`, describeValue(value))
  }
  return value
}

function checkTimeout (value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (value === Infinity) return 0
  if (typeof value !== 'number' || !(value >= 0 && value <= MAX_TIMER_MS)) {
    throw new InvalidOptionError('run.timeout', `a number of ms >= 0 and <= ${MAX_TIMER_MS} (0 or Infinity: no deadline)`, describeValue(value))
  }
  return value
}

/** Checks a name option (`run.name`: the worker function to run). */
export function checkRunName (value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw new InvalidOptionError('run.name', 'a string', describeValue(value))
  return value
}
