import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Worker } from 'node:worker_threads'
import { Piscina } from 'piscina'
import t from 'tap'
import { BROKEN_WORKER, COMMONJS_WORKER, GATE_WORKER, Gate, NO_EXPORT_WORKER, createPool } from '../../helpers/pool.js'

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

t.test('a throwing dispatch listener breaks no task, even when a freeing thread takes its task inside piscina', async (t) => {
  const errors: unknown[] = []
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 }, { onListenerError: (error) => { errors.push(error) } })
  await pool.run({ op: 'echo', value: 'warm' })
  pool.on('dispatch', () => { throw new Error('dispatch listener bug') })
  const gate = new Gate()
  const held = pool.run({ op: 'gate', gate: gate.cell })
  // Queued behind the held task: its thread takes it from the pool's queue as it frees.
  const queued = [pool.run({ op: 'echo', value: 1 }), pool.run({ op: 'echo', value: 2 })]
  gate.open()
  t.same(await Promise.all([held, ...queued]), ['ok', 1, 2])
  t.equal(errors.length, 3, 'each dispatch reported its listener error')
  t.same(await pool.run({ op: 'echo', value: 3 }), 3, 'the pool still runs tasks')
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

t.test('dispatch: the wait from run() to a thread; tasks given to pool.piscina bypass the pool', async (t) => {
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
  const submitted = pool.stats().submitted
  t.equal(await pool.piscina.run({ op: 'echo', value: 2 }), 2)
  t.equal(waits.length, 2, 'a task given to piscina directly is not the pool\'s')
  t.equal(pool.stats().submitted, submitted, 'nor counted: the wait and the counters count the same calls')
})

t.test('a task handed to a thread still starting waits inside piscina, whichever stricterFIFO; a queued one follows', async (t) => {
  for (const stricterFIFO of [true, false]) {
    const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 2, stricterFIFO })
    await pool.run({ op: 'echo', value: 'warm' }) // one thread up; the second starts on demand
    const gate = new Gate()
    const held = pool.run({ op: 'gate', gate: gate.cell })
    // A slot is free (concurrency 2): handed to piscina, which holds it for its second thread, starting now.
    const handed = pool.run({ op: 'echo', value: 'handed' })
    // No slot: the pool's queue.
    const queued = pool.run({ op: 'echo', value: 'queued' })
    t.equal(pool.snapshot().queued, 1, `stricterFIFO ${String(stricterFIFO)}: one waits in the pool's queue; piscina's waits for the starting thread`)
    t.equal(await handed, 'handed', 'the starting thread runs the task handed to it')
    t.equal(await queued, 'queued', 'then the queued one, while the first thread is still held')
    gate.open()
    t.equal(await held, 'ok')
  }
})

t.test('a worker that throws something other than an Error: FST_BACKPRESSURE_TASK_FAILED, the value as cause', async (t) => {
  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  const error = await pool.run({ op: 'throwValue', value: 'plain string' }).then(() => undefined, (e: Error & { code?: string }) => e)
  t.match(error, { code: 'FST_BACKPRESSURE_TASK_FAILED', cause: 'plain string' })
})

t.test('run() options are checked per call: a coded rejection, and the counts stay exact', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, timeout: 5000 })
  const bad: Array<[option: string, options: unknown]> = [
    ['signal', { signal: {} }],
    ['signal', { signal: 'abort' }],
    ['timeout', { timeout: 2 ** 31 }],
    ['timeout', { timeout: -1 }],
    ['timeout', { timeout: NaN }],
    ['timeout', { timeout: null }],
    ['timeout', { timeout: '5s' }],
    ['name', { name: 42 }],
    ['options', 'fast']
  ]
  for (const [option, options] of bad) {
    const error = await pool.run({ op: 'echo', value: 1 }, options as never).then(() => undefined, (e: Error & { code?: string }) => e)
    t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION', `${option}: ${String(JSON.stringify(options))}`)
    t.match(error?.message, `"run.${option}"`, 'names the option')
  }
  t.match(pool.stats(), { submitted: 0, inFlight: 0, failed: 0 }, 'nothing counted, nothing left in flight')
  t.equal(pool.snapshot().running, 0)
  t.equal(await pool.run({ op: 'echo', value: 'fine' }, { timeout: Infinity }), 'fine', 'Infinity: no deadline')
  await pool.close()
  t.match(pool.stats(), { submitted: 1, completed: 1, inFlight: 0 })
})

t.test('a deadline of Infinity means none, not Node\'s 1 ms overflow', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  const gate = new Gate()
  const task = pool.run({ op: 'gate', gate: gate.cell }, { timeout: Infinity })
  // An overflowed timer fires after 1 ms; give it many times that before opening the gate.
  await new Promise((resolve) => setTimeout(resolve, 30))
  gate.open()
  t.equal(await task, 'ok', 'the task ran to the end')
})

t.test('closeTimeout: Infinity waits for running tasks; above 2^31 - 1 ms it is refused', async (t) => {
  t.throws(() => createPool(t, { closeTimeout: 2 ** 31 }), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /pool\.closeTimeout/ })
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, closeTimeout: Infinity })
  await pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const running = pool.run({ op: 'gate', gate: gate.cell })
  const queued = pool.run({ op: 'echo', value: 'queued' })
  const closed = pool.close()
  await new Promise((resolve) => setTimeout(resolve, 30))
  gate.open()
  t.match(await Promise.all([running, queued, closed]), ['ok', 'queued', undefined], 'nothing refused by an overflowed bound')
})

t.test('piscina\'s own option errors are coded and name pool.<option>', async (t) => {
  t.throws(() => createPool(t, { resourceLimits: 'x' as never }), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"pool\.resourceLimits".*'x'/ })
  t.throws(() => createPool(t, { minThreads: 1, execArgv: ['--no-such-flag'] }), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"pool\.execArgv".*--no-such-flag/ })
  t.throws(() => createPool(t, { minThreads: 1, workerData: () => 1 }), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"pool\.workerData"/ })
  t.throws(() => createPool(t, { recordTiming: 'x' as never }), { code: 'FST_BACKPRESSURE_INVALID_OPTION', message: /"pool\.recordTiming"/ })
})

t.test('concurrency, name and affectsProbe: what the probe and the agent read from every executor', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 2, concurrentTasksPerWorker: 3 })
  t.equal(pool.concurrency, 6)
  t.equal(pool.snapshot().concurrency, 6, 'and its snapshot says the same')
  t.equal(pool.name, 'pool')
  t.equal(pool.affectsProbe, true)
})

t.test('run() with a name runs that export', async (t) => {
  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  t.equal(await pool.run({ op: 'echo', value: 'named' }, { name: 'default' }), 'named')
})

t.test('a worker that throws null or undefined: FST_BACKPRESSURE_TASK_FAILED, never a result', async (t) => {
  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  for (const op of ['throwNull', 'throwUndefined']) {
    const error = await pool.run({ op: 'throwValue', value: op === 'throwNull' ? null : undefined }).then(() => undefined, (e: Error & { code?: string, cause?: Error }) => e)
    t.equal(error?.code, 'FST_BACKPRESSURE_TASK_FAILED', op)
    t.match(error?.cause?.message, /The worker function threw (null|undefined)/)
  }
  t.equal(await pool.run({ op: 'echo', value: null }), null, 'a function that returns null still resolves with null')
  t.match(pool.stats(), { errored: 2, completed: 1, inFlight: 0 })
})

t.test('nothing is written at run time: with TMPDIR unwritable a pool runs, and a thrown null still fails', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fastify-backpressure-test-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  const saved = process.env.TMPDIR
  // Below a regular file nothing can be created, not even by root (ENOTDIR).
  process.env.TMPDIR = join(file, 'tmp')
  t.teardown(() => { if (saved === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = saved })
  t.throws(() => mkdtempSync(join(tmpdir(), 'x-')), { code: 'ENOTDIR' }, 'TMPDIR takes no file')
  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  t.equal(await pool.run({ op: 'echo', value: 'ran' }), 'ran')
  t.match(await pool.run({ op: 'throwValue', value: null }).catch((error: unknown) => error), { code: 'FST_BACKPRESSURE_TASK_FAILED' })
})

t.test('a CommonJS worker file: module.exports is the default, a property a named export', async (t) => {
  const pool = createPool(t, { filename: COMMONJS_WORKER, minThreads: 1, maxThreads: 1 })
  t.equal(await pool.run('plain'), 'plain')
  t.equal(await pool.run(21, { name: 'double' }), 42)
  t.equal(await pool.run('again'), 'again', 'the default export again, after another one on the same thread')
})

t.test('a name the worker file does not export: FST_BACKPRESSURE_TASK_FAILED naming it; the pool keeps running', async (t) => {
  const pool = createPool(t, { filename: COMMONJS_WORKER, minThreads: 1, maxThreads: 1 })
  const error = await pool.run(1, { name: 'triple' }).then(() => undefined, (e: Error & { cause?: Error }) => e)
  t.match(error, { code: 'FST_BACKPRESSURE_TASK_FAILED' })
  t.match(error?.cause?.message, /No handler function "triple" exported from .*commonjs-worker\.cjs/)
  t.equal(await pool.run(2, { name: 'double' }), 4)
  const none = createPool(t, { filename: NO_EXPORT_WORKER, minThreads: 1, maxThreads: 1 })
  t.match(await none.run(1).catch((e: unknown) => e), { code: 'FST_BACKPRESSURE_TASK_FAILED', cause: { message: /No handler function "default"/ } })
})

t.test('a task wrapped in Piscina.move() is transferred, not copied', async (t) => {
  const pool = createPool(t, { filename: COMMONJS_WORKER, minThreads: 1, maxThreads: 1 })
  const buffer = new ArrayBuffer(16)
  const result = await pool.run(Piscina.move(buffer)) as ArrayBuffer
  t.equal(buffer.byteLength, 0, 'the caller\'s buffer was transferred (detached)')
  t.equal(result.byteLength, 16, 'the worker received the buffer itself')
})

t.test('pool.piscina destroyed directly (the escape hatch): what ran rejects CLOSED, coded and counted', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  await pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const running = pool.run({ op: 'gate', gate: gate.cell }).then(() => 'resolved', (error: Error & { code?: string }) => error.code)
  await pool.piscina.destroy()
  t.equal(await running, 'FST_BACKPRESSURE_CLOSED')
  t.match(pool.stats(), { inFlight: 0, completed: 1, rejected: 1 })
})

t.test('close() resolves only after every thread has exited, a killed one and its replacement included', async (t) => {
  for (let round = 0; round < 5; round++) {
    const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
    // Every thread the pool starts, and whether it has exited (piscina lists its threads).
    const exited = new Map<Worker, boolean>()
    const track = (): void => {
      for (const thread of pool.piscina.threads) {
        if (!exited.has(thread)) {
          exited.set(thread, false)
          thread.once('exit', () => { exited.set(thread, true) })
        }
      }
    }
    pool.piscina.on('workerCreate', track)
    track()
    await pool.run({ op: 'echo', value: 'warm' })
    // The deadline kills the running task's thread; piscina starts a replacement at once, and
    // another when the killed thread's exit arrives, unless the pool is being destroyed by then.
    const gate = new Gate()
    await pool.run({ op: 'gate', gate: gate.cell }, { timeout: 1 }).catch(() => {})
    track()
    await pool.close()
    track()
    t.same([...exited.values()].filter((done) => !done), [], `round ${round}: no thread of ${exited.size} alive or loading once close() resolves`)
    t.equal(pool.piscina.threads.length, 0)
  }
})
