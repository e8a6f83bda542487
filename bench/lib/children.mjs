// Child processes of the benchmark, on tools/child.mjs: every one is tracked and stopped by PID, on
// success, on error and on Ctrl-C. Children also exit by themselves when their IPC channel closes.
// A child here is Node with an IPC channel; it says it is ready with its first IPC message.
import { startChild, stopAllOnSignals } from '../../tools/child.mjs'

stopAllOnSignals()

/** A Node child with IPC; `execArgv: []` keeps it free of any loader the parent has. */
export function start (file, args = [], { execArgv = [] } = {}) {
  return startChild(process.execPath, [...execArgv, file, ...args], { ipc: true, stdout: 'inherit', stderr: 'inherit' })
}

/** Stops a child by PID: SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export function stop (managed, graceMs = 3000) {
  return managed.stop({ killAfterMs: graceMs })
}

/** Resolves with the first IPC message the child sends; rejects if it exits or times out first. */
export function firstMessage (managed, timeoutMs, what) {
  const { child } = managed
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      void stop(managed, 0)
      reject(new Error(`${what}: no answer within ${timeoutMs} ms (pid ${child.pid} killed)`))
    }, timeoutMs)
    function onMessage (message) {
      cleanup()
      if (message?.error !== undefined) reject(new Error(`${what}: ${message.error}`))
      else resolve(message)
    }
    function onExit (code, signal) {
      cleanup()
      reject(new Error(`${what}: exited (code ${code}, signal ${signal}) before answering`))
    }
    function cleanup () {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/** Runs a fixture that sends one result and exits; makes sure it is gone before returning. */
export async function runToResult (file, options, { timeoutMs, execArgv = [] }) {
  const child = start(file, [JSON.stringify(options)], { execArgv })
  try {
    return await firstMessage(child, timeoutMs, file.split('/').pop())
  } finally {
    await stop(child)
  }
}

/**
 * Starts a long-lived fixture (a server or the load generator) that first sends
 * { type: 'ready', ... } and then answers each control message { id, cmd, ... } with { id, ... }.
 * Resolves with the ready message's fields, `pid`, and `call(cmd, fields, timeoutMs)`.
 */
export async function startService (file, args, what) {
  const managed = start(file, args)
  const { child } = managed
  const ready = await firstMessage(managed, 30_000, what)
  let nextId = 1
  const waiting = new Map()
  child.on('message', (message) => {
    const settle = waiting.get(message.id)
    if (settle === undefined) return
    waiting.delete(message.id)
    settle(message)
  })
  child.once('exit', () => {
    for (const settle of waiting.values()) settle({ error: `${what} exited` })
    waiting.clear()
  })
  function call (cmd, fields = {}, timeoutMs = 60_000) {
    const id = nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`${what}: ${cmd} not answered within ${timeoutMs} ms`))
      }, timeoutMs)
      waiting.set(id, (message) => {
        clearTimeout(timer)
        if (message.error !== undefined) reject(new Error(`${what}: ${cmd}: ${message.error}`))
        else resolve(message)
      })
      child.send({ id, cmd, ...fields })
    })
  }
  /** Asks the child to close (if it has a command for that), then makes sure it is gone. */
  async function close (closeCommand) {
    if (closeCommand !== undefined && child.exitCode === null && child.signalCode === null) {
      await call(closeCommand, {}, 5000).catch(() => {})
    }
    await stop(managed)
  }
  return { ...ready, pid: child.pid, call, close }
}

/** Starts bench/fixtures/server.mjs with `variant`; resolves once it listens. */
export async function startServer (file, variant) {
  const service = await startService(file, [variant], `server ${variant}`)
  return { ...service, variant, url: `http://127.0.0.1:${service.port}`, close: () => service.close('close') }
}
