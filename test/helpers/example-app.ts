/**
 * Starts the example app (`example-app/server.mjs`) as a real child process and stops it by PID.
 *
 *   const app = await startExampleApp({ env: { POOL_MAX_THREADS: '1' } })
 *   await fetch(`${app.url}/page`)
 *   await app.stop()            // SIGTERM by PID, awaits the exit; SIGKILL if it hangs
 *
 * The app is configured by env (contract 3); PORT and AGENT_PORT default to 0 (free ports) here so
 * parallel tests never collide. The helper resolves once the app prints its
 * `BACKPRESSURE_READY {json}` line, and rejects (with the app's output) if it exits or stays
 * silent first. The app imports the package from `dist/`, so `npm run build` must have run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const EXAMPLE_APP_SERVER = fileURLToPath(new URL('../../example-app/server.mjs', import.meta.url))

export interface ExampleAppReady {
  url: string
  port: number
  agentPort: number | null
  pid: number
}

export interface ExampleAppExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ExampleApp extends ExampleAppReady {
  child: ChildProcess
  /** Resolves when the process has exited (it never rejects). */
  exited: Promise<ExampleAppExit>
  /** Everything the app wrote so far (stdout then stderr, each capped), for assertions and diagnostics. */
  output: () => string
  /** Sends `signal` (default SIGTERM) to the PID and awaits the exit; SIGKILL after `killAfterMs`. */
  stop: (options?: { signal?: NodeJS.Signals, killAfterMs?: number }) => Promise<ExampleAppExit>
}

export interface StartExampleAppOptions {
  /** Env for the app, on top of the defaults below (values must be strings). */
  env?: Record<string, string>
  /** How long to wait for the READY line. Default 20000 ms (2 cores shared with other test runs). */
  readyTimeoutMs?: number
}

const READY_PREFIX = 'BACKPRESSURE_READY '
const OUTPUT_CAP = 256 * 1024

/** Env for the child: the test runner's own, minus its loaders and coverage hooks, so the app and
 * its worker threads start as a user's would (tap's TypeScript loader costs ~0.5 s per thread). */
function childEnv (overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  return { ...env, HOST: '127.0.0.1', PORT: '0', AGENT_PORT: '0', LOG_LEVEL: 'warn', ...overrides }
}

/** Signals `pid`, ignoring a process that has exited in the meantime (ESRCH). */
function signalPid (pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

export async function startExampleApp (options: StartExampleAppOptions = {}): Promise<ExampleApp> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 20000
  const child = spawn(process.execPath, [EXAMPLE_APP_SERVER], {
    env: childEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  const output = (): string => stdout + (stderr === '' ? '' : `\n--- stderr ---\n${stderr}`)
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-OUTPUT_CAP) })

  const exited = new Promise<ExampleAppExit>((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
    // A process that could not be spawned never emits 'exit'.
    child.once('error', () => { if (child.pid === undefined) resolve({ code: null, signal: null }) })
  })

  const ready = new Promise<ExampleAppReady>((resolve, reject) => {
    let pending = ''
    let found = false
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout = (stdout + chunk).slice(-OUTPUT_CAP)
      if (found) return
      pending += chunk
      let newline = pending.indexOf('\n')
      while (newline !== -1) {
        const line = pending.slice(0, newline).trim()
        pending = pending.slice(newline + 1)
        if (line.startsWith(READY_PREFIX)) {
          found = true
          try {
            resolve(JSON.parse(line.slice(READY_PREFIX.length)) as ExampleAppReady)
          } catch (error) {
            reject(new Error(`unparsable READY line: ${line}`, { cause: error }))
          }
          return
        }
        newline = pending.indexOf('\n')
      }
    })
    child.once('error', reject)
    void exited.then(({ code, signal }) => {
      reject(new Error(`example app exited (code ${String(code)}, signal ${String(signal)}) before READY:\n${output()}`))
    })
  })

  const sent = new Set<NodeJS.Signals>()
  async function stop ({ signal = 'SIGTERM', killAfterMs = 15000 }: { signal?: NodeJS.Signals, killAfterMs?: number } = {}): Promise<ExampleAppExit> {
    const pid = child.pid
    if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return await exited
    // Each signal once: the app reads a second SIGTERM as "skip the drain grace".
    if (!sent.has(signal)) signalPid(pid, signal)
    sent.add(signal)
    const timer = setTimeout(() => { signalPid(pid, 'SIGKILL') }, killAfterMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }

  // If the timeout wins the race, `ready` still rejects later (on exit): keep that rejection handled.
  ready.catch(() => {})
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`example app printed no READY line within ${readyTimeoutMs} ms:\n${output()}`)) }, readyTimeoutMs)
  })
  try {
    const info = await Promise.race([ready, timeout])
    return { ...info, child, exited, output, stop }
  } catch (error) {
    await stop({ signal: 'SIGKILL' })
    throw error
  } finally {
    clearTimeout(timer)
  }
}

/** Awaits the next stdout line of `app` that contains `text` (for log-driven synchronisation). */
export async function waitForOutput (app: ExampleApp, text: string, timeoutMs = 10000): Promise<void> {
  if (app.output().includes(text)) return
  const stream = app.child.stdout
  if (stream === null) throw new Error('no stdout')
  const deadline = AbortSignal.timeout(timeoutMs)
  while (!app.output().includes(text)) {
    await once(stream, 'data', { signal: deadline })
  }
}
