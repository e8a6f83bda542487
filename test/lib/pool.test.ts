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

t.test('close() with queued tasks and fewer threads than maxThreads finishes (piscina 5.3.2 close() spins there)', async (t) => {
  // piscina's own close() loops forever in `_onWorkerAvailable` when a queued task finds no free
  // thread while fewer than maxThreads threads exist (it cannot start one while closing). Here a
  // thread dies during the close, then the other frees up with three tasks still waiting.
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 2, maxThreads: 2 })
  await Promise.all([pool.run({ op: 'echo', value: 'a' }), pool.run({ op: 'echo', value: 'b' })])
  const first = new Gate()
  const second = new Gate()
  const running = [pool.run({ op: 'gate', gate: first.cell }), pool.run({ op: 'gate', gate: second.cell })]
  const crash = pool.run({ op: 'exit' }).then(() => 'resolved', (error: Error & { code?: string }) => error.code)
  const queued = [1, 2, 3].map((value) => pool.run({ op: 'echo', value }))
  const closed = pool.close()
  second.open()
  t.equal(await crash, 'FST_BACKPRESSURE_WORKER_CRASHED', 'a thread died during the close')
  first.open()
  t.same(await Promise.all(queued), [1, 2, 3], 'the queued tasks ran to the end')
  await Promise.all(running)
  await closed
  t.match(pool.stats(), { inFlight: 0, completed: 7, crashed: 1 })
})

t.test('dispatch: the wait from run() to a thread, and piscina\'s own wait for tasks given to pool.piscina', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  await pool.run({ op: 'echo', value: 'warm' })
  const waits: number[] = []
  pool.on('dispatch', (waitMs) => { waits.push(waitMs) })
  const gate = new Gate()
  const running = pool.run({ op: 'gate', gate: gate.cell })
  const queued = pool.run({ op: 'echo', value: 1 })
  await new Promise((resolve) => setTimeout(resolve, 50)) // the queued task waits (at least) this long
  gate.open()
  await Promise.all([running, queued])
  t.equal(waits.length, 2)
  t.ok(waits[1] !== undefined && waits[1] >= 45, `the queued task waited ${waits[1]} ms`)
  t.equal(await pool.piscina.run({ op: 'echo', value: 2 }), 2)
  t.equal(waits.length, 3, 'a task given to piscina directly is reported too')
})

t.test('a worker that throws something other than an Error: FST_BACKPRESSURE_TASK_FAILED, the value as cause', async (t) => {
  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  const error = await pool.run({ op: 'throwValue', value: 'plain string' }).then(() => undefined, (e: Error & { code?: string }) => e)
  t.match(error, { code: 'FST_BACKPRESSURE_TASK_FAILED', cause: 'plain string' })
})
