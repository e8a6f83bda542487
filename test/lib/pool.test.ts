import { once } from 'node:events'
import t from 'tap'
import { BROKEN_WORKER, GATE_WORKER, Gate, createPool } from '../helpers/pool.js'

t.test('without listeners, piscina errors and throwing listeners become process warnings', async (t) => {
  const pool = createPool(t, { filename: BROKEN_WORKER, minThreads: 1, maxThreads: 1 })
  const warning = once(process, 'warning') as Promise<[Error]>
  const task = pool.run({ op: 'echo' }).then(() => 'resolved', (error: Error & { code?: string }) => error.code)
  const [warned] = await warning
  t.match(warned.message, /cannot start/, 'the thread start-up error is a warning, not an uncaught error event')
  t.match(await task, /^FST_BACKPRESSURE_(TASK_FAILED|POOL_DOWN)$/)
})

t.test('a throwing listener with the default onListenerError: a warning', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  await pool.run({ op: 'echo', value: 'warm' })
  pool.on('busy', () => { throw new Error('listener bug') })
  pool.on('busy', () => { throw 'not an error' }) // eslint-disable-line no-throw-literal
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const gate = new Gate()
  const tasks = [pool.run({ op: 'gate', gate: gate.cell }), pool.run({ op: 'echo', value: 1 })]
  gate.open()
  await Promise.all(tasks)
  await new Promise((resolve) => setImmediate(resolve)) // process.emitWarning emits on the next tick
  t.same(warnings, ['listener bug', 'not an error'])
})
