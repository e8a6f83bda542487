/**
 * Drain and shutdown: `draining` at once, serving through the grace, then `app.close()`, the whole
 * bounded by a deadline past which every connection left is destroyed. An `app.close()` during
 * `drain()`'s grace must join it (same grace, same deadline, one close). See docs/readiness.md.
 */
import type { FastifyInstance } from 'fastify'
import type { ConnectionTracker } from '../../lib/httpchk/connection-tracker.js'
import type { Readiness } from '../../lib/httpchk/readiness.js'

/** How often connections that went idle are closed while the app closes: Node's `server.close()`
 * closes idle keep-alive connections only once, and a later one would hold it until `keepAliveTimeout`. */
const SWEEP_MS = 100

export interface DrainOptions {
  readiness: Readiness
  tracker: ConnectionTracker
  graceMs: number
  deadlineMs: number
  drainOnClose: boolean
  signals: readonly NodeJS.Signals[]
  /** True once a probe or agent check has been answered: someone is watching, so the grace matters. */
  watched: () => boolean
}

export interface Drain {
  drain: () => Promise<void>
}

export function setUpDrain (fastify: FastifyInstance, options: DrainOptions): Drain {
  const { readiness, tracker, graceMs, deadlineMs, drainOnClose, signals, watched } = options
  const log = fastify.log
  let closeStarted = false
  let graceWait: Promise<void> | undefined
  let endGrace: (() => void) | undefined
  let deadline: NodeJS.Timeout | undefined
  let sweep: NodeJS.Timeout | undefined
  let drainPromise: Promise<void> | undefined
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })

  function startDraining (): void {
    if (!readiness.startDraining()) return
    log.info({ grace: graceFor(), timeout: deadlineMs }, 'draining: the probe and the agent now report draining')
    // HTTP/2 clients open a new connection for their next request; HTTP/1 ones are told by
    // `Connection: close` on each answer (the front door).
    tracker.closeSessions()
    deadline = setTimeout(function shutdownDeadline () {
      log.warn({ connections: tracker.size, timeout: deadlineMs }, 'shutdown deadline passed: destroying the connections left')
      tracker.destroyAll()
    }, deadlineMs)
    // The server and its connections keep the process alive while they are open; the deadline need not.
    deadline.unref()
  }

  /** The grace that applies now: none when nothing can be watching (not listening, never probed). */
  function graceFor (): number {
    return graceMs > 0 && watched() && fastify.server.listening ? graceMs : 0
  }

  function waitForGrace (): Promise<void> {
    if (graceWait !== undefined) return graceWait
    const ms = graceFor()
    graceWait = ms === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
        const timer = setTimeout(graceOver, ms)
        timer.unref()
        function graceOver (): void {
          clearTimeout(timer)
          endGrace = undefined
          resolve()
        }
        endGrace = graceOver
      })
    return graceWait
  }

  function drain (): Promise<void> {
    drainPromise ??= (async () => {
      startDraining()
      // A close already under way decides the grace itself (none, unless `drain.onClose`).
      if (!closeStarted) await waitForGrace()
      // Fastify answers 503 to every request once close() starts (`return503OnClosing`), so the
      // grace is served before close(), while the app is fully open.
      if (closeStarted) await closed
      else await fastify.close()
    })()
    return drainPromise
  }

  function onSignal (signal: NodeJS.Signals): void {
    if (drainPromise !== undefined) {
      // A second signal: stop waiting, close now.
      log.info({ signal }, 'second signal while draining: closing without waiting for the grace period')
      endGrace?.()
      return
    }
    log.info({ signal }, 'signal received: draining before close')
    drain().catch((error: unknown) => { log.error({ err: error }, 'closing after the drain failed') })
  }

  // Fastify sets its `closing` flag before preClose hooks run, and from then on answers 503 to every
  // request itself (unless `return503OnClosing: false`); the server still accepts connections until
  // preClose hooks are done. Draining here tells the balancer at once.
  fastify.addHook('preClose', async function drainBeforeClose () {
    closeStarted = true
    startDraining()
    // A close during drain()'s grace waits for that grace (the balancers may not have seen the 503
    // yet), with the deadline drain() started: the grace is never served twice, nor cut short.
    if (drainOnClose || drainPromise !== undefined) await waitForGrace()
    tracker.closeIdle()
    sweep = setInterval(() => { tracker.closeIdle() }, SWEEP_MS)
    sweep.unref()
  })

  // No grace is still running here: preClose waited for any grace drain() or drain.onClose started.
  fastify.addHook('onClose', async function stopDraining () {
    clearInterval(sweep)
    clearTimeout(deadline)
    tracker.dispose()
    for (const signal of signals) process.off(signal, onSignal)
    resolveClosed()
  })

  if (signals.length > 0) {
    // Added once the app is ready, so a registration that fails leaves no handler behind.
    fastify.addHook('onReady', function listenForSignals (done) {
      for (const signal of signals) process.on(signal, onSignal)
      done()
    })
  }

  return { drain }
}
