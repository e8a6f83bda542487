/**
 * The options every executor (the pool, each lane) shares, validated in one place and turned into
 * the one shape the core takes: every duration in ms, named with an `Ms` suffix inside the core
 * (the public option names stay short: `timeout`, `admission.target`, `dwell.busy`).
 * `prefix` is the option path shown in errors (`pool`, `lanes.upstream`).
 */
import type { CodelOptions } from '../codel.js'
import type { DwellTimes } from '../flap-damper.js'
import { MAX_TIMER_MS, numberOption, objectOption, rejectUnknownKeys } from '../validate.js'

/** `admission`: `true` for the defaults, `{ target, interval }` in ms, or false/undefined (off). */
export function admissionOption (prefix: string, value: unknown): CodelOptions | undefined {
  if (value === undefined || value === false) return undefined
  const options = value === true ? {} : objectOption(`${prefix}.admission`, value)
  rejectUnknownKeys(`${prefix}.admission`, options, new Set(['target', 'interval']))
  return {
    // folly's Codel and "Fail at Scale": 5 ms target, 100 ms interval.
    targetMs: numberOption(`${prefix}.admission.target`, options.target, 5, { min: 0, max: MAX_TIMER_MS }),
    intervalMs: numberOption(`${prefix}.admission.interval`, options.interval, 100, { min: 1, max: MAX_TIMER_MS })
  }
}

/** `dwell`: `{ busy, free }` in ms the raw state must hold before it is reported. Default 0 each. */
export function dwellOption (prefix: string, value: unknown): DwellTimes {
  const options = objectOption(`${prefix}.dwell`, value)
  rejectUnknownKeys(`${prefix}.dwell`, options, new Set(['busy', 'free']))
  return {
    toBusyMs: numberOption(`${prefix}.dwell.busy`, options.busy, 0, { min: 0, max: MAX_TIMER_MS }),
    toFreeMs: numberOption(`${prefix}.dwell.free`, options.free, 0, { min: 0, max: MAX_TIMER_MS })
  }
}

/** `timeout`: the default deadline per call in ms from submission; 0 = none. */
export function timeoutOption (prefix: string, value: unknown): number {
  return numberOption(`${prefix}.timeout`, value, 0, { min: 0, max: MAX_TIMER_MS })
}

/** How long close lets queued and running calls finish by default, in ms (piscina's own default). */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000

/** `closeTimeout`: how long close lets calls finish, in ms; Infinity = no bound. */
export function closeTimeoutOption (prefix: string, value: unknown): number {
  return numberOption(`${prefix}.closeTimeout`, value, DEFAULT_CLOSE_TIMEOUT_MS, { integer: true, min: 0, max: MAX_TIMER_MS, allowInfinity: true })
}
