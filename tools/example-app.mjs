// The example app (example-app/server.mjs) as a real child process, for the tests, the demo and the
// soak: started on free loopback ports, ready once it prints its `BACKPRESSURE_READY {json}` line,
// stopped by PID (tools/child.mjs). The app imports the package from dist/: `npm run build` first.
//
//   const app = await startExampleApp({ env: { POOL_MAX_THREADS: '1' } })
//   await fetch(`${app.url}/page`)
//   await app.stop()            // SIGTERM (drain, then exit); SIGKILL if it hangs
import { fileURLToPath } from 'node:url'
import { WAIT_FOR_LINE_MS, nodeEnv, startChild } from './child.mjs'

export const EXAMPLE_APP_SERVER = fileURLToPath(new URL('../example-app/server.mjs', import.meta.url))
export const READY_PREFIX = 'BACKPRESSURE_READY '

/** Env every started app gets unless the caller overrides it: loopback, free ports, quiet logs. */
const DEFAULT_ENV = Object.freeze({ HOST: '127.0.0.1', PORT: '0', AGENT_PORT: '0', LOG_LEVEL: 'warn' })

/**
 * @param {{ env?: Record<string, string>, nodeArgs?: string[], ipc?: boolean, stderr?: 'pipe' | 'inherit', readyTimeoutMs?: number }} [options]
 */
export async function startExampleApp ({ env = {}, nodeArgs = [], ipc = false, stderr = 'pipe', readyTimeoutMs = WAIT_FOR_LINE_MS } = {}) {
  const managed = startChild(process.execPath, [...nodeArgs, EXAMPLE_APP_SERVER], { env: nodeEnv({ ...DEFAULT_ENV, ...env }), ipc, stderr })
  let ready
  try {
    const line = await managed.waitForLine((candidate) => candidate.startsWith(READY_PREFIX), { timeoutMs: readyTimeoutMs })
    ready = JSON.parse(line.slice(READY_PREFIX.length))
  } catch (error) {
    await managed.stop({ signal: 'SIGKILL' })
    throw error
  }

  /** Awaits the next stdout text `text` (for log-driven synchronisation). */
  async function waitForOutput (text, timeoutMs = 10000) {
    if (managed.output().includes(text)) return
    await managed.waitForLine((candidate) => candidate.includes(text), { timeoutMs })
  }

  return { ...ready, child: managed.child, exited: managed.exited, output: managed.output, stop: managed.stop, waitForOutput }
}
