// Every assumption lib/pool/piscina.ts makes about piscina's version, checked against a bare piscina
// (none of our code in between): a piscina upgrade that changes one fails here, by name.
import { Piscina } from 'piscina'
import t, { type Test } from 'tap'
import { NO_HANDLER_PREFIX, TERMINATED_MESSAGE, WORKER_EXIT_PREFIX, createPiscina } from '../../../lib/pool/piscina.js'

const WORKER = new URL('../../fixtures/worker.mjs', import.meta.url).href

function barePiscina (t: Test, options: ConstructorParameters<typeof Piscina>[0] = {}): Piscina {
  const piscina = new Piscina({ filename: WORKER, minThreads: 1, maxThreads: 1, execArgv: [], ...options })
  t.teardown(() => piscina.destroy())
  return piscina
}

t.test('destroy() rejects what piscina still holds with TERMINATED_MESSAGE', async (t) => {
  const piscina = barePiscina(t)
  const running = piscina.run({ op: 'block', ms: 10_000 })
  const queued = piscina.run({ op: 'echo', value: 1 })
  const destroyed = piscina.destroy()
  await t.rejects(running, { message: TERMINATED_MESSAGE })
  await t.rejects(queued, { message: TERMINATED_MESSAGE })
  await destroyed
})

t.test('a thread that exits mid-task rejects its task with WORKER_EXIT_PREFIX', async (t) => {
  const piscina = barePiscina(t)
  const error = await piscina.run({ op: 'exit', code: 7 }).catch((error: unknown) => error) as Error
  t.ok(error.message.startsWith(WORKER_EXIT_PREFIX), error.message)
  t.match(error.message, /7/, 'with the exit code')
})

t.test('a worker file without the export rejects with NO_HANDLER_PREFIX, after the file loaded', async (t) => {
  const piscina = barePiscina(t)
  const error = await piscina.run(null, { name: 'noSuchExport' }).catch((error: unknown) => error) as Error
  t.ok(error.message.startsWith(NO_HANDLER_PREFIX), error.message)
})

t.test('piscina resolves a task whose function throws null: why every task runs through guarded-worker.mjs', async (t) => {
  const piscina = barePiscina(t)
  t.equal(await piscina.run({ op: 'throwValue', value: null }), null, 'resolved with null, not rejected')
})

t.test('piscina errors carry no code: the messages above are the contract', async (t) => {
  const piscina = barePiscina(t)
  const error = await piscina.run({ op: 'exit', code: 3 }).catch((error: unknown) => error) as { code?: unknown }
  t.equal(error.code, undefined)
})

t.test('piscina does not check recordTiming, so createPiscina does', async (t) => {
  const piscina = barePiscina(t, { recordTiming: 'yes' as unknown as boolean })
  t.equal(piscina.options.recordTiming, 'yes', 'piscina took a string')
  t.throws(() => createPiscina({ filename: WORKER, recordTiming: 'yes' as unknown as boolean }), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /pool\.recordTiming/ })
})

t.test("piscina's needsDrain follows threads, not the queue: why busy is our own", async (t) => {
  const piscina = barePiscina(t)
  await piscina.run({ op: 'echo', value: 0 })
  const running = piscina.run({ op: 'block', ms: 500 })
  // The thread has the task once piscina's queue is empty again.
  while (piscina.queueSize > 0) await new Promise<void>((resolve) => { setImmediate(resolve) })
  t.equal(piscina.queueSize, 0, 'nothing waits')
  t.equal(piscina.needsDrain, true, 'yet piscina says it needs to drain: its one thread is taken')
  await running
})
