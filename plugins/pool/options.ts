/**
 * Options of the pool plugin: piscina's own, passed through, plus the pool's. The declarations
 * below are each option's documentation (docs/options.md is generated from them).
 */
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PiscinaOptions, PoolSettings, PoolSnapshot } from '../../lib/pool/pool.js'
import { InvalidOptionError, WorkerNotFoundError } from '../../lib/errors.js'
import { EXECUTOR_KEYS, executorOptions, maxQueueOption, type ExecutorOptions } from '../../lib/executor/options.js'
import { PISCINA_OPTION_KEYS } from '../../lib/pool/piscina.js'
import { booleanOption, describeValue, functionOption, numberOption, objectOption, rejectUnknownKeys } from '../../lib/options.js'

/** The piscina options the pool declares itself (a default or a meaning of its own), and
 * `taskQueue`, which it refuses (its own queue orders tasks: the `priority` run option); every other
 * piscina option passes through as piscina documents it. */
type OwnPiscinaKeys = 'filename' | 'minThreads' | 'maxThreads' | 'idleTimeout' | 'maxQueue' | 'closeTimeout' | 'stricterFIFO' | 'atomics' | 'taskQueue'

export interface PoolPluginOptions extends ExecutorOptions, Omit<PiscinaOptions, OwnPiscinaKeys> {
  /** The worker file: an absolute path, a `file:` URL string (`new URL('./worker.mjs', import.meta.url).href`)
   * or a URL. A relative path is resolved against `process.cwd()`.
   * @default (required) */
  filename: string | URL
  /** Threads kept started, an integer >= 1 (with 0, piscina 5.3 strands queued tasks when the last
   * thread crashes).
   * @default piscina's: max(cores / 2, 1) */
  minThreads?: number
  /** Most threads, an integer >= `minThreads`.
   * @default piscina's: cores × 1.5 */
  maxThreads?: number
  /** How long a thread above `minThreads` may stay idle before piscina stops it; `Infinity`: never.
   * @default piscina's: 0
   * @unit ms */
  idleTimeout?: number
  /** Most tasks that may wait for a thread in the pool's own queue: an integer >= 0 (0: none may
   * wait), `Infinity`, or `'auto'` (maxThreads²). One more is refused with
   * `FST_BACKPRESSURE_QUEUE_FULL`.
   * @default Infinity */
  maxQueue?: number | 'auto'
  /** piscina's `stricterFIFO`, for the few tasks piscina holds while a thread starts (the pool's own
   * queue is FIFO whatever this says).
   * @default true */
  stricterFIFO?: boolean
  /** piscina's `atomics`: how an idle thread waits for its next task. With `'disabled'` it waits in
   * its event loop, so what a task left pending (a timer, a flush) runs meanwhile; piscina's
   * `'sync'` blocks it in `Atomics.wait()`, which holds that back until the next task arrives.
   * Trivial tasks run as fast either way (docs/benchmarks.md, B5).
   * @default 'disabled' */
  atomics?: 'sync' | 'async' | 'disabled'
  /** Called once on each free → busy transition, with the snapshot at that moment.
   * @default none */
  onBusy?: (snapshot: PoolSnapshot) => void
  /** Called once on each busy → free transition, with the snapshot at that moment.
   * @default none */
  onFree?: (snapshot: PoolSnapshot) => void
}

export interface NormalizedPoolOptions extends PoolSettings {
  onBusy: ((snapshot: PoolSnapshot) => void) | undefined
  onFree: ((snapshot: PoolSnapshot) => void) | undefined
}

/** piscina's options the pool refuses, as they could not take effect, each with what is expected
 * instead. piscina's queue is the pool's hand-off to its threads (lib/pool/runner.ts). */
export const REFUSED_PISCINA_OPTIONS: Readonly<Record<string, string>> = {
  taskQueue: "nothing: the pool's own queue orders tasks (the priority run option)"
}

/** Every name the pool plugin knows: piscina's and its own. */
const POOL_KEYS: ReadonlySet<string> = new Set([...PISCINA_OPTION_KEYS, ...EXECUTOR_KEYS, 'onBusy', 'onFree'])

function normalizeFilename (value: unknown): string {
  let path: string
  if (value instanceof URL) {
    path = fileURLToPath(value)
  } else if (typeof value === 'string' && value !== '') {
    path = value.startsWith('file:') ? fileURLToPath(value) : value
  } else {
    throw new InvalidOptionError('pool.filename', 'a worker file path or file: URL', describeValue(value))
  }
  // piscina would reject the first task and leave the queued ones unsettled.
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

const prefix = 'pool'

/** Checks the pool plugin's options (the same whether it is registered alone or by the umbrella). */
export function normalizePoolOptions (raw: unknown): NormalizedPoolOptions {
  const options = objectOption(prefix, raw)
  rejectUnknownKeys(prefix, options, POOL_KEYS)
  for (const [key, expected] of Object.entries(REFUSED_PISCINA_OPTIONS)) {
    if (options[key] !== undefined) throw new InvalidOptionError(`${prefix}.${key}`, expected, describeValue(options[key]))
  }
  const { filename, maxQueue, closeTimeout, stricterFIFO, atomics, onBusy, onFree, timeout, admission, dwell, rejectStatusCode, retryAfter, ...rest } = options
  // The rest is piscina's to check (lib/pool/piscina.ts renames its errors); `closeTimeout` and
  // `maxQueue` are the pool's own and must never reach piscina.
  const piscina: Record<string, unknown> = { ...rest }
  piscina.filename = normalizeFilename(filename)
  const threads = { integer: true, min: 1 }
  const minThreads = options.minThreads === undefined ? undefined : numberOption(`${prefix}.minThreads`, options.minThreads, 1, threads)
  const maxThreads = options.maxThreads === undefined ? undefined : numberOption(`${prefix}.maxThreads`, options.maxThreads, 1, threads)
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw new InvalidOptionError(`${prefix}.minThreads`, `a number <= ${prefix}.maxThreads (${maxThreads})`, describeValue(minThreads))
  }
  if (options.idleTimeout !== undefined) numberOption(`${prefix}.idleTimeout`, options.idleTimeout, 0, { integer: true, min: 0, allowInfinity: true })
  if (options.concurrentTasksPerWorker !== undefined) numberOption(`${prefix}.concurrentTasksPerWorker`, options.concurrentTasksPerWorker, 1, threads)
  // piscina's default (false) lets tasks overtake each other. piscina only holds the tasks it can
  // start (lib/pool/runner.ts), so this orders just those waiting for a thread that is starting.
  piscina.stricterFIFO = booleanOption(`${prefix}.stricterFIFO`, stricterFIFO, true)
  // piscina checks the value (lib/pool/piscina.ts renames its error).
  piscina.atomics = atomics ?? 'disabled'
  if (options.loadBalancer !== undefined) functionOption(`${prefix}.loadBalancer`, options.loadBalancer)

  return {
    piscina: piscina as unknown as PoolSettings['piscina'],
    maxQueue: maxQueue === 'auto' ? 'auto' : maxQueueOption(`${prefix}.maxQueue`, maxQueue),
    ...executorOptions(prefix, { timeout, closeTimeout, admission, dwell, rejectStatusCode, retryAfter }),
    onBusy: functionOption(`${prefix}.onBusy`, onBusy),
    onFree: functionOption(`${prefix}.onFree`, onFree)
  }
}
