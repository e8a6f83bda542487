/**
 * Small option validators shared by the plugins. Each throws `FST_BACKPRESSURE_INVALID_OPTION`
 * naming the option (with its plugin prefix, e.g. `pool.maxThreads`) and the value received.
 */
import { InvalidOptionError, describeValue } from './errors.js'

/** The longest delay Node's timers honour (2³¹ − 1 ms, about 24.8 days): a longer one fires after
 * 1 ms with a `TimeoutOverflowWarning`. Every duration option is bounded by it. */
export const MAX_TIMER_MS = 2 ** 31 - 1

function fail (option: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(option, expected, describeValue(value))
}

export interface NumberRule {
  min?: number
  max?: number
  integer?: boolean
  /** Accept `Infinity` (for limits that may be unbounded). */
  allowInfinity?: boolean
}

export function numberOption (option: string, value: unknown, fallback: number, rule: NumberRule = {}): number {
  if (value === undefined) return fallback
  const { min = -Infinity, max = Infinity, integer = false, allowInfinity = false } = rule
  const range = `${min === -Infinity ? '' : `>= ${min}`}${min !== -Infinity && max !== Infinity ? ' and ' : ''}${max === Infinity ? '' : `<= ${max}`}`
  const expected = `${integer ? 'an integer' : 'a number'}${range === '' ? '' : ` ${range}`}${allowInfinity ? ' (or Infinity)' : ''}`
  if (typeof value !== 'number' || Number.isNaN(value)) fail(option, expected, value)
  if (value === Infinity && allowInfinity) return value
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    fail(option, expected, value)
  }
  return value
}

export function booleanOption (option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(option, 'a boolean', value)
  return value
}

export function functionOption<F extends (...args: never[]) => unknown> (option: string, value: unknown): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') fail(option, 'a function', value)
  return value as F
}

export function stringOption (option: string, value: unknown, fallback: string, pattern?: { test: RegExp, describe: string }): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value === '') fail(option, pattern?.describe ?? 'a non-empty string', value)
  if (pattern !== undefined && !pattern.test.test(value)) fail(option, pattern.describe, value)
  return value
}

export function oneOfOption<T extends string | number> (option: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) fail(option, `one of ${allowed.map((a) => describeValue(a)).join(', ')}`, value)
  return value as T
}

/** A plain object of options (or undefined, meaning "all defaults"). */
export function objectOption (option: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(option, 'an object', value)
  return value as Record<string, unknown>
}

/** Keys Fastify itself reads from the options of `app.register(plugin, options)`
 * (https://fastify.dev/docs/latest/Reference/Plugins/#plugin-options): a plugin accepts them
 * and leaves them to Fastify. */
export const FASTIFY_REGISTER_KEYS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])

/** `rejectUnknownKeys` for the top level of a plugin's options: Fastify's own register keys pass. */
export function rejectUnknownPluginKeys (prefix: string, options: Record<string, unknown>, known: ReadonlySet<string>): void {
  rejectUnknownKeys(prefix, options, new Set([...known, ...FASTIFY_REGISTER_KEYS]))
}

/** Rejects option names we do not know, so a typo (`maxThread`) is not silently ignored. */
export function rejectUnknownKeys (prefix: string, options: Record<string, unknown>, known: ReadonlySet<string>): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      fail(`${prefix}.${key}`, `a known option (${[...known].sort().join(', ')})`, options[key])
    }
  }
}
