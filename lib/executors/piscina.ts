/**
 * Everything this package assumes about piscina, pinned to the version in package.json (5.3):
 * the names of its options, how to construct one so that its own errors become ours, and the
 * messages of the failures it rejects tasks with (piscina's errors carry no `code`, so the message
 * is the contract; the tests in test/lib/pool.test.ts fail if an upgrade changes them).
 */
import { Piscina } from 'piscina'
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../validate.js'

export type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>

/**
 * Every option piscina's constructor takes, so that the pool plugin can refuse a name piscina
 * does not know (a typo would otherwise be passed on and ignored). A piscina upgrade that adds an
 * option is one more name here: test/types/piscina-options.test-d.ts fails until this list and
 * piscina's own `Options` type agree.
 */
export const PISCINA_OPTION_KEYS = [
  'filename', 'name', 'minThreads', 'maxThreads', 'idleTimeout', 'maxQueue', 'concurrentTasksPerWorker',
  'atomics', 'resourceLimits', 'argv', 'execArgv', 'env', 'workerData', 'taskQueue', 'niceIncrement',
  'trackUnmanagedFds', 'closeTimeout', 'recordTiming', 'stricterFIFO', 'loadBalancer', 'workerHistogram'
] as const satisfies ReadonlyArray<keyof PiscinaOptions>

/** `destroy()` rejects every task still in piscina with this message. */
export const TERMINATED_MESSAGE = 'Terminating worker thread'
/** A thread that exits mid-task rejects its tasks with a message starting with this. */
export const WORKER_EXIT_PREFIX = 'worker exited with code'

/**
 * `new Piscina(options)`, with each error piscina (or Node's `Worker`, which piscina calls for
 * `minThreads` at once) throws for a bad option turned into `FST_BACKPRESSURE_INVALID_OPTION`
 * naming `pool.<option>` and the value received. piscina's option list is not repeated here: what
 * it checks it checks, and we only rename. `recordTiming` is checked here because piscina 5.3 does
 * not check it (any truthy value switches the histograms on).
 */
export function createPiscina (options: PiscinaOptions): Piscina {
  const recordTiming: unknown = options.recordTiming
  if (recordTiming !== undefined && typeof recordTiming !== 'boolean') {
    throw new InvalidOptionError('pool.recordTiming', 'a boolean', describeValue(recordTiming))
  }
  try {
    return new Piscina(options)
  } catch (error) {
    throw renameOptionError(error, options as Record<string, unknown>)
  }
}

function renameOptionError (error: unknown, options: Record<string, unknown>): Error {
  const { code, name } = error as { code?: unknown, name?: unknown }
  const text = String((error as { message?: unknown }).message)
  const cause = { cause: error }
  if (code === 'ERR_WORKER_INVALID_EXEC_ARGV') return withCause(new InvalidOptionError('pool.execArgv', `what Node's Worker accepts (${text})`, describeValue(options.execArgv)), cause)
  if (name === 'DataCloneError') return withCause(new InvalidOptionError('pool.workerData', `a value structuredClone() can copy (${text})`, describeValue(options.workerData)), cause)
  // Every other error piscina 5.3 and Node 20's Worker throw for a bad option names it: `options.<name>`.
  const match = /options\.(\w+)/.exec(text)
  /* c8 ignore next -- defensive: none of piscina 5.3's or Node 20's option errors lacks the name; a later version might */
  if (match === null) return withCause(new InvalidOptionError('pool', `what piscina accepts (${text})`, describeValue(Object.keys(options))), cause)
  const option = match[1] as string
  return withCause(new InvalidOptionError(`pool.${option}`, `what piscina accepts (${text})`, describeValue(options[option])), cause)
}

function withCause (error: Error, { cause }: { cause: unknown }): Error {
  error.cause = cause
  return error
}
