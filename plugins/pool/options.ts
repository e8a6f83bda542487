/**
 * Options of the pool plugin: piscina's own, passed through, plus ours. Validated once, when the
 * plugin registers; each error names the option and the value received.
 *
 * | option           | default                        | notes                                                   |
 * |------------------|--------------------------------|---------------------------------------------------------|
 * | filename         | (required)                     | worker file: path, `file:` URL string or URL            |
 * | minThreads       | piscina: max(cores / 2, 1)     | at least 1 (with 0, piscina strands queued tasks when the last thread crashes) |
 * | maxThreads       | piscina: cores × 1.5           |                                                         |
 * | maxQueue         | Infinity                       | bounds the pool's own queue: positive integer, Infinity or 'auto' (maxThreads²) |
 * | stricterFIFO     | **true** (piscina: false)      | FIFO for the few tasks piscina holds while a thread starts |
 * | closeTimeout     | 30000 ms                       | bounds how long `app.close()` waits for queued tasks; Infinity = no bound |
 * | timeout          | 0 (none)                       | default task deadline in ms, counted from submission; at most 2³¹ − 1 |
 * | admission        | false                          | CoDel queue-wait shedding: true or { target: 5, interval: 100 } (ms) |
 * | dwell            | { busy: 0, free: 0 }           | ms the raw state must hold before busy/free is reported |
 * | rejectStatusCode | 503                            | status of QUEUE_FULL/QUEUE_WAIT_EXCEEDED answers: 503 or 429 |
 * | retryAfter       | 1                              | `Retry-After` seconds on 503/429 answers from pool errors |
 * | onBusy / onFree  | none                           | called once per transition with the snapshot            |
 * | (any other name) | piscina's                      | passed to piscina unchanged; piscina's errors come back coded, naming pool.<option> |
 */
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PiscinaOptions, PoolSnapshot } from '../../lib/pool.js'
import { InvalidOptionError, WorkerNotFoundError, describeValue } from '../../lib/errors.js'
import type { CodelOptions } from '../../lib/codel.js'
import type { DwellTimes } from '../../lib/flap-damper.js'
import { admissionOption, closeTimeoutOption, dwellOption, timeoutOption } from '../../lib/core/executor-options.js'
import { booleanOption, functionOption, numberOption, objectOption, oneOfOption } from '../../lib/validate.js'

export interface PoolPluginOptions extends Omit<PiscinaOptions, 'filename' | 'maxQueue'> {
  /** The worker file: an absolute path, a `file:` URL string (`new URL('./w.js', import.meta.url).href`) or a URL. */
  filename: string | URL
  /** Most tasks that may wait for a thread: a positive integer, `Infinity` or `'auto'` (maxThreads²). Default Infinity. */
  maxQueue?: number | 'auto'
  /** Default per-task deadline in ms, counted from submission; 0 disables. Default 0. */
  timeout?: number
  /** CoDel-style queue-wait admission (off by default): `true` for the defaults, or `{ target, interval }` in ms. */
  admission?: boolean | { target?: number, interval?: number }
  /** Minimum time (ms) the raw state must hold before busy (`busy`) or free (`free`) is reported. Default 0 each. */
  dwell?: { busy?: number, free?: number }
  /** HTTP status for `_QUEUE_FULL` and `_QUEUE_WAIT_EXCEEDED`: 503 (default) or 429 (HAProxy `observe layer7` counts 503s as server errors). */
  rejectStatusCode?: 503 | 429
  /** `Retry-After` seconds set on answers to retryable pool errors. Default 1. */
  retryAfter?: number
  /** Called once on each free → busy transition, with the snapshot at that moment. */
  onBusy?: (snapshot: PoolSnapshot) => void
  /** Called once on each busy → free transition, with the snapshot at that moment. */
  onFree?: (snapshot: PoolSnapshot) => void
}

export interface NormalizedPoolOptions {
  piscina: PiscinaOptions & { filename: string }
  timeout: number
  admission: CodelOptions | undefined
  dwell: DwellTimes
  rejectStatusCode: 503 | 429
  retryAfter: number
  onBusy: ((snapshot: PoolSnapshot) => void) | undefined
  onFree: ((snapshot: PoolSnapshot) => void) | undefined
}

function normalizeFilename (value: unknown): string {
  let path: string
  if (value instanceof URL) {
    path = fileURLToPath(value)
  } else if (typeof value === 'string' && value !== '') {
    path = value.startsWith('file:') ? fileURLToPath(value) : value
  } else {
    throw new InvalidOptionError('pool.filename', 'a worker file path or file: URL', describeValue(value))
  }
  // piscina would reject the first task and leave the queued ones unsettled (piscina 5.3: a thread
  // that fails while starting stops piscina from replacing threads).
  if (!existsSync(path)) {
    if (isAbsolute(path)) throw new WorkerNotFoundError(path)
    // A relative path is resolved against the working directory, not the module that registers the
    // plugin: say so, and show the form that does not depend on where `node` was started.
    const cwd = process.cwd()
    throw new WorkerNotFoundError(`${resolve(cwd, path)} (the relative path ${JSON.stringify(path)} was resolved against process.cwd(), ${cwd}; ` +
      `for a file next to your module pass new URL('${path.startsWith('.') ? path : `./${path}`}', import.meta.url))`)
  }
  return path
}

function normalizeMaxQueue (value: unknown): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value
  // The pool enforces it on its own queue (lib/core/engine.ts). 0 stays refused: piscina 5.3.2 breaks on
  // it (the refused task runs later), so it never meant "no queue" for this plugin's users.
  return numberOption('pool.maxQueue', value, Infinity, { integer: true, min: 1, allowInfinity: true })
}

export function normalizePoolOptions (raw: unknown): NormalizedPoolOptions {
  const options = objectOption('pool', raw)
  // No list of piscina's options here: names we do not own go to piscina unchanged (a later
  // piscina's new options work as they come), piscina checks its own, and lib/executors/piscina.ts
  // turns its errors into ours, naming `pool.<option>`. TypeScript's excess-property check catches
  // a misspelt name.
  const { timeout, admission, dwell, rejectStatusCode, retryAfter, onBusy, onFree, ...rest } = options
  const piscina: Record<string, unknown> = { ...rest }

  piscina.filename = normalizeFilename(options.filename)
  const threads = { integer: true, min: 1 }
  const minThreads = options.minThreads === undefined ? undefined : numberOption('pool.minThreads', options.minThreads, 1, threads)
  const maxThreads = options.maxThreads === undefined ? undefined : numberOption('pool.maxThreads', options.maxThreads, 1, threads)
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw new InvalidOptionError('pool.minThreads', `a number <= pool.maxThreads (${maxThreads})`, describeValue(minThreads))
  }
  if (options.idleTimeout !== undefined) numberOption('pool.idleTimeout', options.idleTimeout, 0, { integer: true, min: 0, allowInfinity: true })
  if (options.concurrentTasksPerWorker !== undefined) numberOption('pool.concurrentTasksPerWorker', options.concurrentTasksPerWorker, 1, threads)
  if (options.closeTimeout !== undefined) closeTimeoutOption('pool', options.closeTimeout)
  const maxQueue = normalizeMaxQueue(options.maxQueue)
  if (maxQueue !== undefined) piscina.maxQueue = maxQueue
  // piscina's default (false) lets tasks overtake each other. piscina only holds the tasks it can
  // start (lib/executors/piscina-executor.ts), so this now orders just those waiting for a thread that is starting.
  piscina.stricterFIFO = booleanOption('pool.stricterFIFO', options.stricterFIFO, true)
  if (options.loadBalancer !== undefined) functionOption('pool.loadBalancer', options.loadBalancer)

  return {
    piscina: piscina as unknown as NormalizedPoolOptions['piscina'],
    timeout: timeoutOption('pool', timeout),
    admission: admissionOption('pool', admission),
    dwell: dwellOption('pool', dwell),
    rejectStatusCode: oneOfOption('pool.rejectStatusCode', rejectStatusCode, 503, [503, 429] as const),
    retryAfter: numberOption('pool.retryAfter', retryAfter, 1, { integer: true, min: 0 }),
    onBusy: functionOption('pool.onBusy', onBusy),
    onFree: functionOption('pool.onFree', onFree)
  }
}
