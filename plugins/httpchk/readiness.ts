/**
 * The readiness state's wiring: the executors, @fastify/under-pressure, the dependency checks, and
 * the end of `starting` after the first round of checks. onReady hooks run in registration order:
 * a pool registered first (as the umbrella does) has confirmed its worker file loads by then.
 */
import type { FastifyInstance } from 'fastify'
import { DependencyChecks, type DependencyCheck } from '../../lib/httpchk/dependency-checks.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { isExecutor, type Executor } from '../../lib/executor/types.js'
import { Readiness } from '../../lib/httpchk/readiness.js'

export interface ReadinessWiringOptions {
  underPressure: boolean
  checks: Record<string, DependencyCheck>
  checkIntervalMs: number
  checkTimeoutMs: number
}

export function setUpReadiness (fastify: FastifyInstance, options: ReadinessWiringOptions): Readiness {
  const log = fastify.log
  let executors: readonly Executor[] = []
  /** @fastify/under-pressure's check, found when the app is ready. */
  let isUnderPressure: (() => boolean) | undefined
  const readiness = new Readiness({
    executors: () => executors,
    underPressure: () => isUnderPressure?.() === true
  })

  const checks = new DependencyChecks({
    checks: options.checks,
    intervalMs: options.checkIntervalMs,
    timeoutMs: options.checkTimeoutMs,
    onResult (name, error) {
      if (error === undefined) {
        readiness.checkPassed(name)
        return
      }
      // The error's text goes to the log (and to verbose answers when `allow` is set), never to the
      // agent's line: balancers show that line on their stats pages, and an error names hosts.
      log.warn({ check: name, err: error }, 'dependency check failed: not ready')
      readiness.checkFailed(name, error.message)
    }
  })

  // Looked up when the app is ready rather than now, so that the pool, the lanes and
  // @fastify/under-pressure may be registered after this plugin (under-pressure's own onRequest
  // hook would then never see the probe, which the front door answers first anyway).
  fastify.addHook('onReady', async function findExecutors () {
    const decorated = fastify as unknown as { pool?: unknown, lanes?: Record<string, unknown> }
    const candidates = [
      fastify.hasDecorator('pool') ? decorated.pool : undefined,
      ...(fastify.hasDecorator('lanes') ? Object.values(decorated.lanes as Record<string, unknown>) : [])
    ]
    // Another plugin may decorate `pool` too (a database pool): only executors count.
    executors = candidates.filter(isExecutor)
    if (options.underPressure) {
      if (!fastify.hasDecorator('isUnderPressure')) {
        throw new InvalidOptionError('httpchk.underPressure', 'false unless @fastify/under-pressure is registered in the same app', 'true')
      }
      isUnderPressure = (fastify as unknown as { isUnderPressure: () => boolean }).isUnderPressure
    }
    if (checks.size > 0) await checks.start()
    readiness.markStarted()
  })

  fastify.addHook('onClose', async function stopChecks () {
    checks.stop()
  })

  return readiness
}
