/**
 * Everything this package assumes about piscina, pinned to the version in package.json (5.3):
 * the names of its options, how to construct one so that its own errors become ours, the messages
 * of the failures it rejects tasks with (piscina's errors carry no `code`, so the message is the
 * contract), and how it uses its `taskQueue` (runner.ts): `run()` starts a task on an idle thread
 * when the queue is empty and `push()`es it otherwise, a task it cannot place goes back by
 * `unshift()`, and a thread that frees `shift()`s the next one before the finished task's promise
 * settles. test/lib/pool/piscina.test.ts checks each against a bare piscina, so an upgrade fails there.
 */
import { once } from 'node:events'
import { Piscina } from 'piscina'
import { InvalidOptionError } from '../errors.js'
import { describeValue } from '../options.js'

export type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>

/** Every option piscina's constructor takes, so that the pool plugin can refuse a typo piscina would
 * ignore. test/types/piscina-options.test-d.ts fails until this list and piscina's `Options` agree. */
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
 * `new Piscina(options)`, each error it (or Node's `Worker`) throws for a bad option renamed to
 * `FST_BACKPRESSURE_INVALID_OPTION` naming `pool.<option>`: piscina's checks are not repeated here.
 * `recordTiming` is the exception: piscina 5.3 does not check it (any truthy value turns it on).
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

/** An export name no worker file has. */
export const LOAD_CHECK_EXPORT = '__fastifyBackpressureLoadCheck__'
/** piscina 5.3's message for a worker file that loaded but lacks the export. */
export const NO_HANDLER_PREFIX = 'No handler function'

/**
 * Resolves when the worker file loads in a thread; rejects with the loader's error otherwise. Run
 * before the app serves: a file that throws on import leaves piscina looking healthy until the first
 * task, then piscina stops replacing threads (`workerFailsDuringBootstrap`) and every task fails.
 * One task goes under an export name no worker has: piscina's worker loads the file to look it up
 * (`getHandler`), so a file that loads fails with "No handler function…" having run only its own
 * top level, and one that does not fails with the loader's error or kills the thread (`error`).
 */
export async function checkWorkerLoads (piscina: Piscina): Promise<void> {
  const failed = new AbortController()
  // A thread that dies while starting makes piscina emit 'error' (and no task settles).
  const threadError = once(piscina, 'error', { signal: failed.signal }).then(([error]: Error[]) => { throw error })
  const task = piscina.run(null, { name: LOAD_CHECK_EXPORT }).then(
    () => undefined,
    (error: unknown) => {
      if (error instanceof Error && error.message.startsWith(NO_HANDLER_PREFIX)) return
      throw error
    }
  )
  try {
    await Promise.race([task, threadError])
  } finally {
    failed.abort()
    // Whichever lost the race settles later (the stranded task when the pool is destroyed); nothing waits for it.
    task.catch(() => {})
    threadError.catch(() => {})
  }
}
