/**
 * Priorities in the engine, on the pool and on a lane alike: the order of service, displacement
 * from a full queue, refusal, queue-wait admission shedding the lowest priority first, deadlines of
 * queued calls, bad values, and the figures by priority. Every test checks the accounting invariant.
 */
import t, { type Test } from 'tap'
import type { Lane } from '../../../lib/lane/lane.js'
import type { ExecutorStats } from '../../../lib/executor/types.js'
import type { LaneOptions } from '../../../plugins/lanes/options.js'
import { GATE_WORKER, Gate, createLane as createLaneWithTeardown, createPool } from '../../helpers/pool.js'
import { deferred } from '../../helpers/deferred.js'

type CodedError = Error & { code?: string, statusCode?: number }

function createLane (t: Test, options: Partial<LaneOptions> = {}): Lane {
  const lane = createLaneWithTeardown(t, { concurrency: 1, ...options })
  // The lane's timers are unref'd; the held calls here are bare promises: keep the process up.
  const keepAlive = setInterval(() => {}, 60_000)
  t.teardown(() => { clearInterval(keepAlive) })
  return lane
}

function checkInvariant (t: Test, stats: ExecutorStats): void {
  t.equal(stats.submitted, stats.completed + stats.failed + stats.inFlight, 'submitted = completed + failed + inFlight')
  t.equal(stats.failed, stats.rejected + stats.displaced + stats.shed + stats.aborted + stats.timedOut + stats.errored + stats.crashed, 'failed is the sum of its causes')
}

/** Settles to the error's code, or 'ok:<value>'. */
const outcome = async (promise: Promise<unknown>): Promise<string> =>
  await promise.then((value) => `ok:${String(value)}`, (error: CodedError) => String(error.code))

t.test('pool: priorities [0, 5, 0, 10, 5] start as 10, 5, 5, 0, 0', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  await pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const holding = pool.run({ op: 'gate', gate: gate.cell })
  const started: string[] = []
  // One thread: the tasks run one after another, so they finish in the order they started.
  const tasks = [[0, 'a'], [5, 'b'], [0, 'c'], [10, 'd'], [5, 'e']].map(async ([priority, label]) => {
    await pool.run({ op: 'echo', value: label }, { priority: priority as number })
    started.push(`${label}:${String(priority)}`)
  })
  t.equal(pool.snapshot().queued, 5)
  gate.open()
  await holding
  await Promise.all(tasks)
  t.same(started, ['d:10', 'b:5', 'e:5', 'a:0', 'c:0'])
  checkInvariant(t, pool.stats())
})

t.test('lane: priorities [0, 5, 0, 10, 5] start as 10, 5, 5, 0, 0', async (t) => {
  const lane = createLane(t)
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const started: string[] = []
  const calls = [[0, 'a'], [5, 'b'], [0, 'c'], [10, 'd'], [5, 'e']].map(async ([priority, label]) =>
    await lane.run(async () => { started.push(`${String(label)}:${String(priority)}`) }, { priority: priority as number }))
  hold.resolve('r')
  await Promise.all([running, ...calls])
  t.same(started, ['d:10', 'b:5', 'e:5', 'a:0', 'c:0'])
  t.match(lane.stats(), { submitted: 6, completed: 6, inFlight: 0 })
  checkInvariant(t, lane.stats())
})

t.test('lane: a full queue refuses an arrival of its lowest priority or below, and displaces for a higher one', async (t) => {
  const lane = createLane(t, { maxQueue: 3, rejectStatusCode: 429 })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const started: string[] = []
  const call = (label: string, priority: number, options: { timeout?: number, signal?: AbortSignal } = {}): Promise<string> =>
    outcome(lane.run(async () => { started.push(label); return label }, { priority, ...options }))
  const caller = new AbortController()
  const low1 = call('low1', 0)
  const low2 = call('low2', 0, { signal: caller.signal })
  const low3 = call('low3', 0, { timeout: 30 })
  t.equal(await call('low4', 0), 'FST_BACKPRESSURE_QUEUE_FULL', 'the same priority as the lowest waiting: refused')
  t.equal(await call('below', -1), 'FST_BACKPRESSURE_QUEUE_FULL', 'a lower one: refused')
  t.match(lane.stats(), { rejected: 2, displaced: 0 })

  const mid1 = call('mid1', 5)
  t.equal(await low3, 'FST_BACKPRESSURE_QUEUE_FULL', 'a higher arrival displaces the newest of the lowest priority, at once')
  const mid2 = call('mid2', 5)
  t.equal(await low2, 'FST_BACKPRESSURE_QUEUE_FULL', 'and again')
  caller.abort() // low2 is settled already: its caller's signal no longer counts for anything
  t.match(lane.stats(), { rejected: 2, displaced: 2, aborted: 0 })
  t.match(lane.snapshot(), { queued: 3 })

  // [mid1, mid2, low1]: 10 displaces low1; then [10, mid1, mid2] refuses a 5 and displaces for a 6.
  const top = call('top', 10)
  t.equal(await low1, 'FST_BACKPRESSURE_QUEUE_FULL')
  t.equal(await call('mid3', 5), 'FST_BACKPRESSURE_QUEUE_FULL', 'equal to the lowest waiting (5): refused')
  const six = call('six', 6)
  t.equal(await mid2, 'FST_BACKPRESSURE_QUEUE_FULL', 'the newest of the lowest waiting priority, 5 now')
  t.match(lane.stats(), { rejected: 3, displaced: 4 })
  t.same(lane.priorities(), [
    { priority: 10, queued: 1, refused: { rejected: 0, displaced: 0, shed: 0 } },
    { priority: 6, queued: 1, refused: { rejected: 0, displaced: 0, shed: 0 } },
    { priority: 5, queued: 1, refused: { rejected: 1, displaced: 1, shed: 0 } },
    { priority: 0, queued: 0, refused: { rejected: 1, displaced: 3, shed: 0 } },
    { priority: -1, queued: 0, refused: { rejected: 1, displaced: 0, shed: 0 } }
  ], 'queued now and refused ever, by priority, highest first')

  // The deadline of a displaced call was cleared: nothing fires for it later.
  await new Promise((resolve) => setTimeout(resolve, 40))
  t.match(lane.stats(), { timedOut: 0 })
  hold.resolve('r')
  t.same(await Promise.all([running, top, six, mid1]), ['r', 'ok:top', 'ok:six', 'ok:mid1'])
  t.same(started, ['top', 'six', 'mid1'], 'the displaced never started')
  t.equal(await lane.run(async () => 1, { priority: 1 }), 1)
  t.match(lane.stats(), { submitted: 12, completed: 5, rejected: 3, displaced: 4, inFlight: 0 })
  checkInvariant(t, lane.stats())
})

t.test('lane: a displaced call carries the reject status, and busy/free does not flap', async (t) => {
  const lane = createLane(t, { maxQueue: 1, rejectStatusCode: 429 })
  const transitions: string[] = []
  lane.on('busy', () => transitions.push('busy'))
  lane.on('free', () => transitions.push('free'))
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const low = lane.run(async () => 'low')
  t.same(transitions, ['busy'])
  const high = lane.run(async () => 'high', { priority: 1 })
  const error = await low.then(() => undefined, (e: CodedError) => e)
  t.equal(error?.code, 'FST_BACKPRESSURE_QUEUE_FULL')
  t.equal(error?.statusCode, 429)
  t.same(transitions, ['busy'], 'the queue never emptied: no free, no second busy')
  hold.resolve('r')
  t.same(await Promise.all([running, high]), ['r', 'high'])
  t.same(transitions, ['busy', 'free'])
  checkInvariant(t, lane.stats())
})

t.test('pool: displacement and refusal with the counters intact', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, maxQueue: 2 })
  await pool.run({ op: 'echo', value: 'warm' })
  const gate = new Gate()
  const holding = pool.run({ op: 'gate', gate: gate.cell })
  const a = outcome(pool.run({ op: 'echo', value: 'a' }))
  const b = outcome(pool.run({ op: 'echo', value: 'b' }))
  t.equal(await outcome(pool.run({ op: 'echo', value: 'c' })), 'FST_BACKPRESSURE_QUEUE_FULL', 'refused')
  const urgent = outcome(pool.run({ op: 'echo', value: 'urgent' }, { priority: 1000 }))
  t.equal(await b, 'FST_BACKPRESSURE_QUEUE_FULL', 'displaced')
  t.match(pool.stats(), { submitted: 6, rejected: 1, displaced: 1, inFlight: 3 })
  t.equal(pool.snapshot().queued, 2)
  gate.open()
  await holding
  t.same(await Promise.all([urgent, a]), ['ok:urgent', 'ok:a'])
  t.match(pool.stats(), { submitted: 6, completed: 4, failed: 2, inFlight: 0 })
  t.same(pool.priorities(), [{ priority: 0, queued: 0, refused: { rejected: 1, displaced: 1, shed: 0 } }],
    'only priorities with calls waiting now or ever refused (1000 waited, and has left)')
  checkInvariant(t, pool.stats())
})

t.test('admission sheds the lowest priority first (a FIFO would shed the oldest first)', async (t) => {
  const lane = createLane(t, { admission: { target: 5, interval: 20 } })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const shed: string[] = []
  const call = (label: string, priority: number): Promise<void> =>
    lane.run(async () => label, { priority }).then(() => { shed.push(`${label} ran`) }, (error: CodedError) => { shed.push(`${label} ${String(error.code)}`) })
  // The high ones are the oldest: FIFO shedding would take them first.
  const calls = [call('high1', 10), call('high2', 10), call('low1', 0), call('low2', 0)]
  await Promise.all(calls)
  t.same(shed, [
    'low1 FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED',
    'low2 FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED',
    'high1 FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED',
    'high2 FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED'
  ], 'low first (oldest first within a priority), then high')
  hold.resolve('r')
  await running
  t.match(lane.stats(), { shed: 4, completed: 1, inFlight: 0 })
  t.same(lane.priorities().map(({ priority, refused }) => [priority, refused.shed]), [[10, 2], [0, 2]])
  checkInvariant(t, lane.stats())
})

t.test('admission: while the oldest call may stay, nothing is shed, whatever the priorities', async (t) => {
  const lane = createLane(t, { concurrency: 1, admission: { target: 1000, interval: 1000 } })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const started: string[] = []
  const queued = [-5, 5].map(async (priority) => { await lane.run(async () => { started.push(String(priority)) }, { priority }) })
  await new Promise((resolve) => setTimeout(resolve, 20))
  hold.resolve('r')
  await Promise.all([running, ...queued])
  t.same(started, ['5', '-5'])
  t.match(lane.stats(), { shed: 0, completed: 3 })
})

t.test('a call that times out while queued never starts (pool and lane), whatever its priority', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  await pool.run({ op: 'echo', value: 'warm' })
  const dispatched: number[] = []
  pool.on('dispatch', (waitMs) => dispatched.push(waitMs))
  const gate = new Gate()
  const holding = pool.run({ op: 'gate', gate: gate.cell })
  const low = outcome(pool.run({ op: 'echo', value: 'low' }, { priority: -1, timeout: 20 }))
  const high = outcome(pool.run({ op: 'echo', value: 'high' }, { priority: 7, timeout: 20 }))
  t.same(await Promise.all([low, high]), ['FST_BACKPRESSURE_TASK_TIMEOUT', 'FST_BACKPRESSURE_TASK_TIMEOUT'])
  gate.open()
  await holding
  t.equal(await pool.run({ op: 'echo', value: 'after' }), 'after')
  t.equal(dispatched.length, 2, 'only the gate task and the last one reached a thread')
  t.match(pool.stats(), { timedOut: 2, completed: 3, inFlight: 0 })
  checkInvariant(t, pool.stats())

  const lane = createLane(t)
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  let started = false
  const queued = outcome(lane.run(async () => { started = true }, { priority: 100, timeout: 10 }))
  t.equal(await queued, 'FST_BACKPRESSURE_TASK_TIMEOUT')
  hold.resolve('r')
  await running
  t.equal(started, false, 'the queued call never started')
  t.match(lane.stats(), { timedOut: 1, completed: 1, inFlight: 0 })
})

t.test('bad priorities are refused per call, naming run.priority and the value; nothing counted', async (t) => {
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1 })
  const lane = createLane(t)
  const bad: unknown[] = [null, 1.5, NaN, Infinity, -Infinity, 1001, -1001, '5', true, 10n]
  for (const priority of bad) {
    for (const [name, run] of [
      ['pool', () => pool.run({ op: 'echo', value: 1 }, { priority } as never)],
      ['lane', () => lane.run(async () => 1, { priority } as never)]
    ] as const) {
      const error = await run().then(() => undefined, (e: CodedError) => e)
      t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION', `${name}: ${String(priority)}`)
      t.match(error?.message, /"run\.priority": expected an integer from -1000 to 1000/)
      t.ok(error?.message.endsWith(`received ${typeof priority === 'string' ? `'${priority}'` : typeof priority === 'bigint' ? `${String(priority)}n` : String(priority)}`), String(error?.message))
    }
  }
  t.match(pool.stats(), { submitted: 0, failed: 0, inFlight: 0 })
  t.match(lane.stats(), { submitted: 0, failed: 0, inFlight: 0 })
  t.same(pool.priorities(), [])
  // The bounds and `undefined` are fine.
  t.same(await Promise.all([
    pool.run({ op: 'echo', value: 'max' }, { priority: 1000 }),
    pool.run({ op: 'echo', value: 'min' }, { priority: -1000 }),
    pool.run({ op: 'echo', value: 'default' }, { priority: undefined }),
    lane.run(async () => 'zero', { priority: -0 })
  ]), ['max', 'min', 'default', 'zero'])
})

t.test('closing refuses by priority too; every figure adds up to stats()', async (t) => {
  const lane = createLane(t, { maxQueue: 2, closeTimeout: 10 })
  const hold = deferred()
  const running = outcome(lane.run(async () => await hold.promise, { priority: 3 }))
  const queued = [outcome(lane.run(async () => 1, { priority: 3 })), outcome(lane.run(async () => 2, { priority: -3 }))]
  const closing = lane.close()
  t.equal(await outcome(lane.run(async () => 3, { priority: 9 })), 'FST_BACKPRESSURE_CLOSED')
  t.same(await Promise.all(queued), ['FST_BACKPRESSURE_CLOSED', 'FST_BACKPRESSURE_CLOSED'])
  t.equal(await running, 'FST_BACKPRESSURE_CLOSED')
  hold.resolve('late')
  await closing
  const stats = lane.stats()
  const figures = lane.priorities()
  t.same(figures.map((f) => f.priority), [9, 3, -3])
  const sum = (reason: 'rejected' | 'displaced' | 'shed'): number => figures.reduce((total, f) => total + f.refused[reason], 0)
  t.equal(sum('rejected'), stats.rejected, 'rejected, summed over priorities')
  t.equal(sum('displaced'), stats.displaced)
  t.equal(sum('shed'), stats.shed)
  checkInvariant(t, stats)
})
