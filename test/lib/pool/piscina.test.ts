// Every assumption lib/pool/piscina.ts makes about piscina's version, checked against a bare piscina
// (none of our code in between): a piscina upgrade that changes one fails here, by name.
import { Piscina, type TaskQueue } from 'piscina'
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

t.test('piscina resolves a task whose function throws null: why every task runs through guarded-worker.cjs', async (t) => {
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

type PiscinaTask = Parameters<TaskQueue['push']>[0]

/** A `taskQueue` that records what piscina asks of it; `claimed` makes it say it is not empty. */
class RecordingQueue implements TaskQueue {
  readonly tasks: PiscinaTask[] = []
  readonly calls: string[] = []
  claimed = false
  get size (): number { return this.claimed ? Math.max(1, this.tasks.length) : this.tasks.length }
  push (task: PiscinaTask): void { this.calls.push('push'); this.tasks.push(task) }
  unshift (task: PiscinaTask): void { this.calls.push('unshift'); this.tasks.unshift(task) }
  shift (): PiscinaTask | null { this.calls.push('shift'); return this.tasks.shift() ?? null }
  remove (task: PiscinaTask): void { this.calls.push('remove'); this.tasks.splice(this.tasks.indexOf(task), 1) }
}

/** The hand-off of lib/pool/runner.ts (`HandOffQueue`) relies on the next four. */
async function readyWithQueue (t: Test, queue: RecordingQueue): Promise<Piscina> {
  const piscina = barePiscina(t, { taskQueue: queue, stricterFIFO: true })
  await piscina.run({ op: 'echo', value: 0 })
  while (piscina.idleThreads < 1) await new Promise<void>((resolve) => { setImmediate(resolve) })
  queue.calls.length = 0
  return piscina
}

t.test('taskQueue: run() with the queue empty starts the task on an idle thread at once', async (t) => {
  const queue = new RecordingQueue()
  const piscina = await readyWithQueue(t, queue)
  const task = piscina.run({ op: 'echo', value: 1 })
  t.same(queue.calls, [], 'the queue was not asked')
  t.equal(piscina.idleThreads, 0, 'the thread has it')
  t.equal(await task, 1)
})

t.test('taskQueue: run() with the queue not empty pushes the task, at once, and starts nothing', async (t) => {
  const queue = new RecordingQueue()
  const piscina = await readyWithQueue(t, queue)
  queue.claimed = true
  const task = piscina.run({ op: 'echo', value: 2 })
  queue.claimed = false
  t.same(queue.calls, ['push'], 'queued through push()')
  t.equal(piscina.idleThreads, 1, 'the idle thread did not get it')
  // Only piscina's own pull (a thread freeing) or destroy() takes it out again.
  const rejected = t.rejects(task, { message: TERMINATED_MESSAGE })
  await piscina.destroy()
  await rejected
})

t.test('taskQueue: a task with no thread free goes back through unshift() (stricterFIFO)', async (t) => {
  const queue = new RecordingQueue()
  const piscina = await readyWithQueue(t, queue)
  const first = piscina.run({ op: 'block', ms: 20, value: 'first' })
  const second = piscina.run({ op: 'echo', value: 'second' })
  t.same(queue.calls, ['unshift'])
  t.same(await Promise.all([first, second]), ['first', 'second'])
})

t.test("taskQueue: a thread that frees takes the next task with shift() before the finished task's reactions run", async (t) => {
  const queue = new RecordingQueue()
  const piscina = await readyWithQueue(t, queue)
  const first = piscina.run({ op: 'block', ms: 20, value: 'first' })
  const second = piscina.run({ op: 'echo', value: 'second' })
  const seenAtFirst = await first.then(() => [...queue.calls])
  t.same(seenAtFirst, ['unshift', 'shift'], 'shifted by the time the first task settles')
  t.equal(await second, 'second')
})
