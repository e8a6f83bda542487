/**
 * What every refused option says (lib/errors.ts `InvalidOptionError`): its code, the option's full
 * path, and the value received as `describeValue` shows it. The tables of bad options call each
 * normaliser directly and match its error against `refusal(option, value)`:
 *
 *   t.throws(() => normalizeHttpchkOptions(options), refusal(option, valueAt(options, option)))
 */
import { describeValue } from '../../lib/options.js'

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The value at `option` (`httpchk.drain.grace`) in `options`, the object given for its first
 * segment (`httpchk`); `options` itself for a one-segment path. */
export function valueAt (options: unknown, option: string): unknown {
  let value = options
  for (const key of option.split('.').slice(1)) value = (value as Record<string, unknown> | undefined)?.[key]
  return value
}

/** What `t.throws` expects of the error refusing `value` for `option`. */
export function refusal (option: string, value: unknown): { code: string, message: RegExp } {
  return {
    code: 'FST_BACKPRESSURE_INVALID_OPTION',
    message: new RegExp(`^Invalid option "${escape(option)}": expected .+, received ${escape(describeValue(value))}$`, 's')
  }
}
