/**
 * The umbrella's options (index.ts), checked as a whole before any plugin registers: its own keys,
 * what each section may be (`false`, or an object), then each section by its plugin's normaliser,
 * so a typo in `metrics` fails registration before the pool has started a thread. Each plugin
 * checks its section again when it registers, with the same normaliser and the same error.
 */
import { featureOption, objectOption, rejectUnknownKeys } from './lib/options.js'
import { normalizePoolOptions } from './plugins/pool/options.js'
import { normalizeLanes } from './plugins/lanes/options.js'
import { normalizeHttpchkOptions } from './plugins/httpchk/options.js'
import { normalizeMetricsOptions } from './plugins/metrics/options.js'

const KNOWN_KEYS: readonly string[] = ['pool', 'lanes', 'httpchk', 'metrics']

/** Each section as given, checked; `undefined` for a plugin left out. */
export interface UmbrellaSections {
  pool: Record<string, unknown> | undefined
  lanes: Record<string, unknown> | undefined
  httpchk: Record<string, unknown> | undefined
  metrics: Record<string, unknown> | undefined
}

/** Checks the umbrella's options; throws the first `FST_BACKPRESSURE_INVALID_OPTION` found. */
export function normalizeBackpressureOptions (raw: unknown): UmbrellaSections {
  const options = objectOption('options', raw)
  rejectUnknownKeys('', options, KNOWN_KEYS)
  // `pool: null` is refused here: Fastify would turn it into `{}` and the error would blame pool.filename.
  const pool = featureOption('pool', options.pool, 'false or an object with at least "filename"')
  const lanes = featureOption('lanes', options.lanes, 'false or the lanes by name ({ <name>: { concurrency } })')
  const httpchk = options.httpchk === false ? undefined : objectOption('httpchk', options.httpchk)
  const metrics = options.metrics === false ? undefined : objectOption('metrics', options.metrics)
  if (pool !== undefined) normalizePoolOptions(pool)
  if (lanes !== undefined) normalizeLanes(lanes)
  if (httpchk !== undefined) normalizeHttpchkOptions(httpchk)
  if (metrics !== undefined) normalizeMetricsOptions(metrics)
  return { pool, lanes, httpchk, metrics }
}
