/**
 * The options every executor (the pool, each lane) shares, validated here and normalised to the
 * engine's shape: durations in ms, with the `Ms` suffix inside the engine only. `prefix` is the
 * option path errors show (`pool`, `lanes.upstream`). `ExecutorOptions` is each shared option's
 * one public declaration: the pool's and the lanes' option types extend it.
 */
import type { CodelOptions } from './admission.js'
import type { DwellTimes } from './busy.js'
import { InvalidOptionError } from '../errors.js'
import { MAX_TIMER_MS, describeValue, durationOption, featureOption, numberOption, objectOption, oneOfOption, rejectUnknownKeys } from '../options.js'

/** What the pool and every lane take alike. */
export interface ExecutorOptions {
  /** Default deadline per task, counted from submission (queue wait and run); `0`: none. A task's
   * own `run(task, { timeout })` overrides it.
   * @default 0
   * @unit ms */
  timeout?: number
  /** How long `app.close()` lets queued and running tasks finish; past it they are rejected with
   * `FST_BACKPRESSURE_CLOSED`. `Infinity`: no bound.
   * @default 30000
   * @unit ms */
  closeTimeout?: number
  /** CoDel-style queue-wait admission: while the queue has not been empty for a whole `interval`,
   * a task that waited longer than `target` is shed (`FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED`).
   * `{}` for the defaults.
   * @default false */
  admission?: false | AdmissionOptions
  /** Flap damping: how long the raw busy (or free) state must hold before it is reported.
   * @default { busy: 0, free: 0 } */
  dwell?: DwellOptions
  /** HTTP status of `FST_BACKPRESSURE_QUEUE_FULL` and `_QUEUE_WAIT_EXCEEDED`: 503, or 429 (HAProxy's
   * `observe layer7` counts 503s as server errors).
   * @default 503 */
  rejectStatusCode?: 503 | 429
  /** The retry hint on this executor's retryable errors (`QUEUE_FULL`, `QUEUE_WAIT_EXCEEDED`,
   * `CLOSED`, `POOL_DOWN`), sent as `Retry-After` by Fastify's error handler; `0`: none. Seconds,
   * the header's unit.
   * @default 1
   * @unit seconds */
  retryAfter?: number
}

export interface AdmissionOptions {
  /** The longest acceptable queue wait while the queue is standing.
   * @default 5
   * @unit ms */
  target?: number
  /** How long the queue must stay non-empty before it counts as standing.
   * @default 100
   * @unit ms */
  interval?: number
}

export interface DwellOptions {
  /** How long the raw state must stay busy before busy is reported.
   * @default 0
   * @unit ms */
  busy?: number
  /** How long the raw state must stay free before free is reported.
   * @default 0
   * @unit ms */
  free?: number
}

/** The keys of `ExecutorOptions`, for the unknown-key checks of the pool and the lanes. */
export const EXECUTOR_KEYS = ['timeout', 'closeTimeout', 'admission', 'dwell', 'rejectStatusCode', 'retryAfter'] as const satisfies ReadonlyArray<keyof ExecutorOptions>

/** The engine's shape: normalised, every duration in ms. */
export interface ExecutorSettings {
  /** Most tasks that may wait; Infinity: unbounded. */
  maxQueue: number
  /** Default deadline per task in ms from submission; 0 = none. */
  timeoutMs: number
  /** How long close lets queued and running tasks finish, in ms (Infinity: no bound). */
  closeTimeoutMs: number
  /** Queue-wait admission; off when undefined. */
  admission: CodelOptions | undefined
  dwell: DwellTimes
  /** HTTP status of `_QUEUE_FULL` / `_QUEUE_WAIT_EXCEEDED`. */
  rejectStatusCode: 503 | 429
  /** Seconds of the retry hint on retryable errors; 0 = none. */
  retryAfter: number
}

/** Reads the shared options of `options` (already checked for unknown keys by the caller). */
export function executorOptions (prefix: string, options: Record<string, unknown>): Omit<ExecutorSettings, 'maxQueue'> {
  return {
    timeoutMs: durationOption(`${prefix}.timeout`, options.timeout, 0),
    closeTimeoutMs: closeTimeout(`${prefix}.closeTimeout`, options.closeTimeout),
    admission: admission(`${prefix}.admission`, options.admission),
    dwell: dwell(`${prefix}.dwell`, options.dwell),
    rejectStatusCode: oneOfOption(`${prefix}.rejectStatusCode`, options.rejectStatusCode, 503, [503, 429] as const),
    retryAfter: numberOption(`${prefix}.retryAfter`, options.retryAfter, 1, { integer: true, min: 0, max: 86_400 })
  }
}

/** `maxQueue`: an integer >= 0 (0: no task may wait) or Infinity. */
export function maxQueueOption (option: string, value: unknown): number {
  return numberOption(option, value, Infinity, { integer: true, min: 0, allowInfinity: true })
}

function closeTimeout (option: string, value: unknown): number {
  return numberOption(option, value, 30_000, { integer: true, min: 0, max: MAX_TIMER_MS, allowInfinity: true })
}

function admission (option: string, value: unknown): CodelOptions | undefined {
  const options = featureOption(option, value)
  if (options === undefined) return undefined
  rejectUnknownKeys(option, options, ['target', 'interval'])
  return {
    // folly's Codel and "Fail at Scale": 5 ms target, 100 ms interval.
    targetMs: durationOption(`${option}.target`, options.target, 5),
    intervalMs: durationOption(`${option}.interval`, options.interval, 100, { min: 1 })
  }
}

function dwell (option: string, value: unknown): DwellTimes {
  const options = objectOption(option, value)
  rejectUnknownKeys(option, options, ['busy', 'free'])
  return {
    toBusyMs: durationOption(`${option}.busy`, options.busy, 0),
    toFreeMs: durationOption(`${option}.free`, options.free, 0)
  }
}

/** The lowest and highest priorities a task may have, and the default. */
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

/** What a task submitted without options gets: no signal, the executor's default deadline, the
 * default priority. One frozen object per executor, shared by every such task (no allocation). */
export function defaultRunOptions (defaultTimeoutMs: number): Readonly<CheckedRunOptions> {
  return Object.freeze({ signal: undefined, timeoutMs: defaultTimeoutMs, priority: DEFAULT_PRIORITY })
}

/**
 * Checks one `run()` call's `signal`, `timeout` (`0` or `Infinity`: none; undefined: the default)
 * and `priority` (undefined: 0) before anything is counted; `options` undefined: `defaults` itself.
 * Per call, not only at registration: a non-AbortSignal `signal` would throw after the task was
 * counted (in flight forever), a `timeout` of -1, NaN or null would drop the default deadline, and
 * one above 2³¹ − 1 ms would fire after 1 ms (Node's timer overflow).
 */
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
