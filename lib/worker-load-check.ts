/**
 * Confirms, before the app serves, that a worker thread can load the pool's worker file.
 *
 * Why: a worker file that throws on import (a syntax error, ESM syntax in a CommonJS scope, a
 * missing dependency) leaves piscina's pool looking healthy until the first task: the thread dies
 * while starting, piscina stops replacing threads (`workerFailsDuringBootstrap` in piscina 5.3),
 * and every task from then on fails. The probe would answer 200 to a build that cannot run one task.
 *
 * How: one task is sent straight to piscina under an export name no worker has. piscina's worker
 * loads the file to look the name up (piscina 5.3 `getHandler`): when the file loads, the task
 * fails with piscina's "No handler function exported from <file>", and no user code beyond the
 * module's own top level has run; when it does not load, the task fails with the loader's error,
 * or the thread dies and piscina emits `error`. piscina's messages carry no code, so the message
 * is the contract (pinned to the piscina version in package.json).
 */
import { once } from 'node:events'
import type { Piscina } from 'piscina'

/** An export name no worker file has. */
export const LOAD_CHECK_EXPORT = '__fastifyBackpressureLoadCheck__'
/** piscina 5.3's message for a worker file that loaded but lacks the export. */
const NO_HANDLER_PREFIX = 'No handler function'

/** Resolves when the worker file loads in a thread; rejects with the loader's error otherwise. */
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
