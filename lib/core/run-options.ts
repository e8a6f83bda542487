/**
 * The options of one `run()` call, checked before anything is counted or queued, for the pool and
 * for every lane alike. A bad value rejects that call with `FST_BACKPRESSURE_INVALID_OPTION` naming
 * `run.<option>`; the executor's counts are untouched (the call was never submitted).
 *
 * Why per call and not only at registration: a `signal` that is not an AbortSignal would otherwise
 * throw inside the executor after the task was counted (a phantom task in flight forever), and a
 * `timeout` of -1, NaN or null would silently switch off the default deadline, and one above
 * 2³¹ − 1 ms would fire after 1 ms (Node's timer overflow).
 */
import { InvalidOptionError } from '../errors.js'
import { MAX_TIMER_MS, describeValue } from '../validate.js'

export interface CheckedRunOptions {
  signal: AbortSignal | undefined
  /** Deadline in ms from submission; 0 = none. */
  timeoutMs: number
}

/** Checks `signal` and `timeout` (`0` or `Infinity` = no deadline; undefined = `defaultTimeoutMs`). */
export function checkRunOptions (options: unknown, defaultTimeoutMs: number): CheckedRunOptions {
  if (options === undefined) return { signal: undefined, timeoutMs: defaultTimeoutMs }
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('run.options', 'an object', describeValue(options))
  }
  const { signal, timeout } = options as { signal?: unknown, timeout?: unknown }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError('run.signal', 'an AbortSignal', describeValue(signal))
  }
  return { signal, timeoutMs: checkTimeout(timeout, defaultTimeoutMs) }
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
