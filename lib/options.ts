/**
 * Option validators shared by the plugins. Each error must name the option by its full path
 * (`lanes.upstream.timeout`) and the value received.
 */
import { inspect } from 'node:util'
import { InvalidOptionError } from './errors.js'

/** The longest delay Node's timers honour (2³¹ − 1 ms, about 24.8 days): a longer one fires after
 * 1 ms with a `TimeoutOverflowWarning`. Every duration option is bounded by it. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** Renders a received value for an error message: short, single-line, never the whole object. */
export function describeValue (value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 80 })
}

function fail (option: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(option, expected, describeValue(value))
}

/** `prefix.key`, or `key` alone at the top level (the umbrella's own keys). */
export function optionPath (prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`
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

/** A duration in ms, 0 … 2³¹ − 1 (Node's timer bound). */
export function durationOption (option: string, value: unknown, fallback: number, rule: { min?: number, max?: number, integer?: boolean } = {}): number {
  return numberOption(option, value, fallback, { min: 0, ...rule, max: Math.min(rule.max ?? MAX_TIMER_MS, MAX_TIMER_MS) })
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

/**
 * An optional feature: `false` or undefined (off; `undefined` is returned) or an object of its
 * options (`{}` for every default). `true` is refused: it would say nothing about the options.
 */
export function featureOption (option: string, value: unknown, expected = 'false or an object ({} for the defaults)'): Record<string, unknown> | undefined {
  if (value === undefined || value === false) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(option, expected, value)
  return value as Record<string, unknown>
}

/** Keys Fastify reads from `app.register(plugin, options)` (https://fastify.dev/docs/latest/Reference/Plugins/#plugin-options).
 * Every plugin of this package is wrapped in fastify-plugin, and Fastify applies none of them to
 * such a plugin (it shares its parent's context), so they are refused like any unknown key. */
const FASTIFY_REGISTER_KEYS: ReadonlySet<string> = new Set(['prefix', 'logLevel', 'logSerializers'])

/**
 * Rejects unknown option names, naming the known key nearest to each, so a typo is never silently
 * ignored. Call it before reading any option, so that a misspelt required key (`fileName`) is
 * reported as the typo it is, not as a missing `filename`.
 */
export function rejectUnknownKeys (prefix: string, options: Record<string, unknown>, known: Iterable<string>): void {
  const names = [...known]
  for (const key of Object.keys(options)) {
    if (names.includes(key)) continue
    const nearest = nearestKey(key, names)
    const scope = prefix === '' ? 'this plugin' : `"${prefix}"`
    const hint = nearest === undefined ? '' : ` (did you mean "${optionPath(prefix, nearest)}"?)`
    const fastify = FASTIFY_REGISTER_KEYS.has(key)
      ? `; Fastify ignores "${key}" for a plugin wrapped in fastify-plugin, which shares the context that registers it`
      : ''
    fail(optionPath(prefix, key), `an option ${scope} knows${hint}${fastify}`, options[key])
  }
}

/** The known name nearest to `key`: the fewest edits (letter case ignored, a swap of two
 * neighbours counting once), less the letters of the camelCase words both share, so that a name
 * sharing a word finds it (`busyStatusCode` → `unavailableStatusCode`). The first in sorted order
 * among equals. */
export function nearestKey (key: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestScore = Infinity
  const keyWords = words(key)
  for (const name of [...known].sort()) {
    let shared = 0
    for (const word of words(name)) if (keyWords.has(word)) shared += word.length
    const score = editDistance(key.toLowerCase(), name.toLowerCase()) - shared
    if (score < bestScore) {
      best = name
      bestScore = score
    }
  }
  return best
}

/** The lower-cased camelCase words of a name, three letters or more (`maxQueue` → max, queue). */
function words (name: string): Set<string> {
  return new Set((name.match(/[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])/g) ?? []).map((word) => word.toLowerCase()).filter((word) => word.length >= 3))
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance (a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[]
    const above = rows[i - 1] as number[]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, ((rows[i - 2] as number[])[j - 2] as number) + 1)
      row[j] = value
    }
  }
  return (rows[a.length] as number[])[b.length] as number
}
