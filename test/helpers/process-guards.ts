/**
 * Fails the test process on a listener-leak warning (`MaxListenersExceededWarning`) or an unhandled
 * rejection: neither may happen anywhere in the test run. package.json's tap `node-arg` preloads
 * this module into every test process (it installs the guards once per process); a helper or test
 * may also import it.
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
