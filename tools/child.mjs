// Child processes for the tests, the demo, the bench and the soak: spawn one, wait for its ready line
// (or its first IPC message, bench/lib/children.mjs), and stop it by its PID: SIGTERM, then SIGKILL
// after a grace. Every child started here is tracked until it exits, so an entry script can stop
// all of them on Ctrl-C (`stopAllOnSignals()`) and none outlives the process that started it.
//
//   const app = startChild(process.execPath, ['server.mjs'], { env: nodeEnv({ PORT: '0' }) })
//   const line = await app.waitForLine((l) => l.startsWith('READY '))
//   await app.stop()                 // SIGTERM by PID, awaits the exit; SIGKILL after killAfterMs
import { spawn } from 'node:child_process'

/** How long `waitForLine` waits by default before it calls the child hung. */
export const WAIT_FOR_LINE_MS = 120_000

const OUTPUT_CAP = 256 * 1024
/** Every child started here and not yet exited. */
const running = new Set()

/**
 * The parent's env for a Node child, minus the test runner's loaders and coverage hooks (tap's
 * TypeScript loader costs ~0.5 s per thread start and the children need none), plus `overrides`.
 * @param {Record<string, string>} [overrides]
 */
export function nodeEnv (overrides = {}) {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  return { ...env, ...overrides }
}

/** Signals `pid`, ignoring a process that has exited in the meantime (ESRCH). */
function signalPid (pid, signal) {
  try {
    process.kill(pid, signal)
  } catch (error) {
    if (error.code !== 'ESRCH') throw error
  }
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ env?: NodeJS.ProcessEnv, cwd?: string, ipc?: boolean, stdout?: 'pipe' | 'inherit' | 'ignore', stderr?: 'pipe' | 'inherit' | 'ignore' }} [options]
 */
export function startChild (command, args, { env = process.env, cwd, ipc = false, stdout = 'pipe', stderr = 'pipe' } = {}) {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', stdout, stderr, ...(ipc ? ['ipc'] : [])] })
  running.add(child)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk) => { out = (out + chunk).slice(-OUTPUT_CAP) })
  child.stderr?.setEncoding('utf8').on('data', (chunk) => { err = (err + chunk).slice(-OUTPUT_CAP) })
  const output = () => out + (err === '' ? '' : `\n--- stderr ---\n${err}`)

  /** @type {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} */
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { running.delete(child); resolve({ code, signal }) })
    // A process that could not be spawned never emits 'exit'.
    child.once('error', (error) => {
      if (child.pid !== undefined) return
      running.delete(child)
      err += String(error)
      resolve({ code: null, signal: null })
    })
  })
  const isRunning = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined

  const sent = new Set()
  /** Sends `signal` (default SIGTERM) to the PID once and awaits the exit; SIGKILL after `killAfterMs`. */
  async function stop ({ signal = 'SIGTERM', killAfterMs = 15000 } = {}) {
    if (!isRunning()) return await exited
    // Each signal once: the example app reads a second SIGTERM as "skip the drain grace".
    if (!sent.has(signal)) signalPid(child.pid, signal)
    sent.add(signal)
    const timer = setTimeout(() => { signalPid(child.pid, 'SIGKILL') }, killAfterMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Resolves with the first stdout line (already written or still to come) that `match` accepts;
   * rejects, with the child's output, if the child exits or `timeoutMs` passes first.
   * `timeoutMs` guards against a child that hangs; it is not a bound on start-up time. A child that
   * fails exits, and that rejects at once; on a loaded 2-core machine a process that loads the
   * TypeScript loader (and forks workers that load it again) took over 30 s to print its line.
   * @param {(line: string) => boolean} match
   */
  function waitForLine (match, { timeoutMs = WAIT_FOR_LINE_MS } = {}) {
    if (child.stdout === null) return Promise.reject(new Error('waitForLine needs stdout: "pipe"'))
    return new Promise((resolve, reject) => {
      let pending = out
      const scan = () => {
        let newline = pending.indexOf('\n')
        while (newline !== -1) {
          const line = pending.slice(0, newline).replace(/\r$/, '')
          pending = pending.slice(newline + 1)
          if (match(line)) return line
          newline = pending.indexOf('\n')
        }
        return undefined
      }
      const settle = (fn, value) => {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        child.off('exit', onExit)
        fn(value)
      }
      const onData = (chunk) => {
        pending += chunk
        const line = scan()
        if (line !== undefined) settle(resolve, line)
      }
      const onExit = (code, signal) => { settle(reject, new Error(`${command} exited (code ${code}, signal ${signal}) before the line awaited:\n${output()}`)) }
      const timer = setTimeout(() => { settle(reject, new Error(`${command} printed no line awaited within ${timeoutMs} ms:\n${output()}`)) }, timeoutMs)
      const early = scan()
      if (early !== undefined) { settle(resolve, early); return }
      if (!isRunning()) { onExit(child.exitCode, child.signalCode); return }
      child.stdout.on('data', onData)
      child.once('exit', onExit)
    })
  }

  return {
    child,
    get pid () { return child.pid },
    get running () { return isRunning() },
    exited,
    output,
    stop,
    waitForLine
  }
}

/** Stops every child still running (SIGTERM, SIGKILL after `killAfterMs`). */
export async function stopAll ({ killAfterMs = 10000 } = {}) {
  await Promise.all([...running].map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => { child.once('exit', resolve) })
    signalPid(child.pid, 'SIGTERM')
    const timer = setTimeout(() => { signalPid(child.pid, 'SIGKILL') }, killAfterMs)
    await exited
    clearTimeout(timer)
  }))
}

/**
 * For entry scripts (demo, bench, soak): on SIGINT/SIGTERM stop every child, then exit 130; on any
 * other exit, SIGKILL what is left (an exit handler cannot wait).
 */
let signalsHandled = false
export function stopAllOnSignals () {
  if (signalsHandled) return
  signalsHandled = true
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => { void stopAll().finally(() => process.exit(130)) })
  }
  process.once('exit', () => { for (const child of running) signalPid(child.pid, 'SIGKILL') })
}
