/**
 * Fails the test process on a listener-leak warning (`MaxListenersExceededWarning`) or an unhandled
 * rejection (issue 4: "no listener-leak warnings and no unhandled rejections anywhere in the test
 * run"). Importing this module installs the guards once per process; every helper in
 * `test/helpers/pool.ts` imports it, and any test file may `import './helpers/process-guards.js'`.
 *
 * Both guards rethrow from a fresh stack, so the error surfaces as an uncaught exception, which
 * tap reports as a failure of the file that caused it.
 */
const INSTALLED = Symbol.for('fastify-backpressure.process-guards')

type GuardedProcess = NodeJS.Process & { [INSTALLED]?: true }

export function installProcessGuards (): void {
  const guarded = process as GuardedProcess
  if (guarded[INSTALLED] === true) return
  guarded[INSTALLED] = true
  process.on('warning', function failOnListenerLeak (warning: Error) {
    if (warning.name === 'MaxListenersExceededWarning') {
      throw new Error(`listener leak: ${warning.message}`, { cause: warning })
    }
  })
  process.on('unhandledRejection', function failOnUnhandledRejection (reason: unknown) {
    throw new Error(`unhandled rejection: ${String(reason)}`, { cause: reason })
  })
}

installProcessGuards()
