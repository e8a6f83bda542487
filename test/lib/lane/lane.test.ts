import { once } from 'node:events'
import t, { type Test } from 'tap'
import type { EngineHooks } from '../../../lib/executor/engine.js'
import { Lane, type LaneSnapshot } from '../../../lib/lane/lane.js'
import { normalizeLane, type LaneOptions } from '../../../plugins/lanes/options.js'
import '../../helpers/process-guards.js'
import { deferred } from '../../helpers/deferred.js'

/** A lane from the lanes plugin's options for one lane, through its normaliser. */
function createLane (t: Test, options: Partial<LaneOptions> = {}, hooks: EngineHooks = {}): Lane {
  const lane = new Lane(normalizeLane('upstream', { concurrency: 2, ...options }), hooks)
  // A lane's own timers are unref'd: in production the upstream call (a socket) keeps the process
  // alive; the calls here are bare promises, so the test holds a handle for them.
  const keepAlive = setInterval(() => {}, 60_000)
  t.teardown(async () => { await lane.close(); clearInterval(keepAlive) })
  return lane
}

type CodedError = Error & { code?: string, statusCode?: number, cause?: unknown }
const codeOf = async (promise: Promise<unknown>): Promise<string | undefined> =>
  await promise.then(() => 'resolved', (error: CodedError) => error.code)

function checkInvariant (t: Test, lane: Lane): void {
  const s = lane.stats()
  t.equal(s.submitted, s.completed + s.failed + s.inFlight, 'submitted = completed + failed + inFlight')
  t.equal(s.failed, s.rejected + s.shed + s.aborted + s.timedOut + s.errored + s.crashed, 'failed is the sum of its causes')
}

t.test('runs calls with at most `concurrency` at once, FIFO, and counts them', async (t) => {
  const lane = createLane(t, { concurrency: 2 })
  t.equal(lane.name, 'upstream')
  t.equal(lane.concurrency, 2)
  t.equal(lane.affectsProbe, true)
  t.equal(lane.down, false)
  const held = [deferred(), deferred(), deferred(), deferred()]
  const started: number[] = []
  const calls = held.map((d, i) => lane.run(async () => { started.push(i); return await d.promise }))
  t.same(started, [0, 1], 'two start at once')
  t.match(lane.snapshot(), { queued: 2, running: 2, active: 2, concurrency: 2 })
  held[1]?.resolve('b')
  await calls[1]
  t.same(started, [0, 1, 2], 'the oldest queued call takes the free slot')
  held[0]?.resolve('a')
  held[2]?.resolve('c')
  held[3]?.resolve('d')
  t.same(await Promise.all(calls), ['a', 'b', 'c', 'd'])
  t.match(lane.stats(), { submitted: 4, completed: 4, inFlight: 0, failed: 0 })
  checkInvariant(t, lane)
})

t.test('busy = more calls queued than free slots; busy and free once per transition', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  const events: Array<[string, LaneSnapshot]> = []
  lane.on('busy', (s) => events.push(['busy', s]))
  lane.on('free', (s) => events.push(['free', s]))
  const first = deferred()
  const a = lane.run(async () => await first.promise)
  t.equal(lane.busy, false, 'one running, none queued')
  const second = deferred()
  const b = lane.run(async () => await second.promise)
  const c = lane.run(async () => 'c')
  t.equal(lane.busy, true)
  t.same(events.map(([e]) => e), ['busy'], 'one busy for two queued calls')
  t.match(events[0]?.[1], { busy: true, queued: 1 }, 'the snapshot shows the state after the transition')
  first.resolve('a')
  await a
  t.equal(lane.busy, true, 'the second runs, the third waits with no free slot')
  second.resolve('b')
  await Promise.all([b, c])
  t.equal(lane.busy, false)
  t.same(events.map(([e]) => e), ['busy', 'free'])
  t.same(lane.stats().transitions, { busy: 1, free: 1 })
})

t.test('maxQueue: QUEUE_FULL with the reject status, never queued', async (t) => {
  const lane = createLane(t, { concurrency: 1, maxQueue: 1, rejectStatusCode: 429 })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const queued = lane.run(async () => 'q')
  const error = await lane.run(async () => 'never').then(() => undefined, (e: CodedError) => e)
  t.equal(error?.code, 'FST_BACKPRESSURE_QUEUE_FULL')
  t.equal(error?.statusCode, 429)
  t.equal(lane.snapshot().queued, 1, 'the queue never grew past maxQueue')
  hold.resolve('r')
  t.same(await Promise.all([running, queued]), ['r', 'q'])
  t.match(lane.stats(), { rejected: 1, completed: 2 })
  checkInvariant(t, lane)
})

t.test('maxQueue 0: a call runs only if a slot is free', async (t) => {
  const lane = createLane(t, { concurrency: 1, maxQueue: 0 })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  t.equal(await codeOf(lane.run(async () => 1)), 'FST_BACKPRESSURE_QUEUE_FULL')
  hold.resolve('ok')
  t.equal(await running, 'ok')
  t.equal(await lane.run(async () => 'free again'), 'free again')
})

t.test('deadline from submission: a queued call never starts, a running one has its signal fired', async (t) => {
  // The running call's deadline must come after the queued call's, whatever pause a loaded
  // machine puts between the two run() calls: 400 ms against 20 ms.
  const lane = createLane(t, { concurrency: 1, timeout: 400 })
  let runningSignal: AbortSignal | undefined
  const upstream = deferred()
  const running = lane.run(async (signal) => {
    runningSignal = signal
    signal.addEventListener('abort', () => { upstream.reject(signal.reason) })
    return await upstream.promise
  })
  let queuedStarted = false
  const queued = lane.run(async () => { queuedStarted = true }, { timeout: 20 })
  const [runningError, queuedError] = await Promise.all([
    running.then(() => undefined, (e: CodedError) => e),
    queued.then(() => undefined, (e: CodedError) => e)
  ])
  t.equal(runningError?.code, 'FST_BACKPRESSURE_TASK_TIMEOUT')
  t.equal(runningError?.statusCode, 504)
  t.equal(queuedError?.code, 'FST_BACKPRESSURE_TASK_TIMEOUT')
  t.equal(queuedStarted, false, 'the queued call never started')
  t.equal(runningSignal?.aborted, true, 'the running call\'s signal fired')
  t.match((runningSignal?.reason as CodedError).code, 'FST_BACKPRESSURE_TASK_TIMEOUT', 'with the timeout as reason')
  t.match(lane.stats(), { timedOut: 2, inFlight: 0 })
  checkInvariant(t, lane)
})

t.test('a stopped call keeps its slot until its function returns', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  const controller = new AbortController()
  const ignoresSignal = deferred()
  const stubborn = lane.run(async () => await ignoresSignal.promise, { signal: controller.signal })
  let nextStarted = false
  const next = lane.run(async () => { nextStarted = true; return 'next' })
  controller.abort(new Error('caller left'))
  const error = await stubborn.then(() => undefined, (e: CodedError) => e)
  t.equal(error?.code, 'FST_BACKPRESSURE_TASK_ABORTED', 'the caller gets its answer at once')
  t.match((error?.cause as Error).message, 'caller left')
  t.equal(nextStarted, false, 'the slot is still taken')
  t.match(lane.snapshot(), { active: 1, running: 0, queued: 1 })
  ignoresSignal.resolve('late')
  t.equal(await next, 'next')
  t.match(lane.stats(), { aborted: 1, completed: 1, inFlight: 0 })
})

t.test('the caller\'s signal: already aborted, aborted while queued, a live one', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  t.equal(await codeOf(lane.run(async () => 1, { signal: AbortSignal.abort() })), 'FST_BACKPRESSURE_TASK_ABORTED')
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const controller = new AbortController()
  let started = false
  const queued = lane.run(async () => { started = true }, { signal: controller.signal })
  controller.abort()
  t.equal(await codeOf(queued), 'FST_BACKPRESSURE_TASK_ABORTED')
  t.equal(started, false)
  const live = new AbortController()
  hold.resolve('r')
  t.equal(await running, 'r')
  t.equal(await lane.run(async (signal) => signal.aborted ? 'aborted' : 'live', { signal: live.signal }), 'live')
  t.match(lane.stats(), { aborted: 2, completed: 2, inFlight: 0 })
  checkInvariant(t, lane)
})

t.test('whatever fn throws (an Error, null, undefined, synchronously) is TASK_FAILED, never a result', async (t) => {
  const lane = createLane(t)
  for (const thrown of [new Error('boom'), null, undefined, 'text']) {
    const error = await lane.run(async () => { throw thrown }).then(() => undefined, (e: CodedError) => e)
    t.equal(error?.code, 'FST_BACKPRESSURE_TASK_FAILED', `async throw of ${String(thrown)}`)
    t.equal(error?.cause, thrown, 'what was thrown is the cause')
  }
  const sync = await lane.run(() => { throw null }).then(() => undefined, (e: CodedError) => e) // eslint-disable-line no-throw-literal
  t.equal(sync?.code, 'FST_BACKPRESSURE_TASK_FAILED', 'a synchronous throw')
  t.equal(await lane.run(() => 'plain value'), 'plain value', 'a function that returns a value, not a promise')
  t.match(lane.stats(), { errored: 5, completed: 1, inFlight: 0 })
})

t.test('bad run() options and a non-function: coded rejections, nothing counted', async (t) => {
  const lane = createLane(t)
  for (const [fn, options, option] of [
    ['not a function', undefined, 'run.fn'],
    [async () => 1, { signal: {} }, 'run.signal'],
    [async () => 1, { timeout: 2 ** 31 }, 'run.timeout'],
    [async () => 1, { timeout: -1 }, 'run.timeout'],
    [async () => 1, { timeout: NaN }, 'run.timeout']
  ] as const) {
    const error = await lane.run(fn as never, options as never).then(() => undefined, (e: CodedError) => e)
    t.equal(error?.code, 'FST_BACKPRESSURE_INVALID_OPTION', option)
    t.match(error?.message, `"${option}"`)
  }
  t.match(lane.stats(), { submitted: 0, inFlight: 0 })
})

t.test('close: running and queued calls finish; then every new call is refused', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  const downs: string[] = []
  lane.on('down', (reason) => downs.push(reason))
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const queued = lane.run(async () => 'queued')
  const closed = lane.close()
  t.equal(lane.down, true)
  t.same(downs, ['closing'])
  t.equal(await codeOf(lane.run(async () => 1)), 'FST_BACKPRESSURE_CLOSED')
  hold.resolve('running')
  t.same(await Promise.all([running, queued, closed]), ['running', 'queued', undefined])
  t.equal(lane.close(), lane.close(), 'close() again: the same promise')
  t.match(lane.stats(), { completed: 2, rejected: 1, inFlight: 0 })
})

t.test('close past its bound: queued and running calls rejected CLOSED, signals fired', async (t) => {
  const lane = createLane(t, { concurrency: 1, closeTimeout: 30 })
  let plainSignal: AbortSignal | undefined
  const never = deferred()
  const running = lane.run(async (signal) => { plainSignal = signal; return await never.promise })
  const queued = lane.run(async () => 'never started')
  const started = performance.now()
  await lane.close()
  t.ok(performance.now() - started >= 25, 'close waited for its bound')
  t.equal(await codeOf(running), 'FST_BACKPRESSURE_CLOSED')
  t.equal(await codeOf(queued), 'FST_BACKPRESSURE_CLOSED')
  t.equal(plainSignal?.aborted, true, 'a call without deadline or caller signal still sees the close')
  t.match(lane.stats(), { rejected: 2, inFlight: 0 })
  never.resolve('late')
  checkInvariant(t, lane)
})

t.test('close with nothing in flight resolves at once; closeTimeout Infinity waits for the call', async (t) => {
  const idle = createLane(t)
  await idle.close()
  t.equal(idle.down, true)
  const lane = createLane(t, { concurrency: 1, closeTimeout: Infinity })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const closed = lane.close()
  await new Promise((resolve) => setTimeout(resolve, 20)) // an overflowed timer would fire after 1 ms
  hold.resolve('done')
  t.same(await Promise.all([running, closed]), ['done', undefined])
})

t.test('queue-wait admission sheds a standing queue, with the reject status', async (t) => {
  const lane = createLane(t, { concurrency: 1, admission: { target: 5, interval: 20 }, rejectStatusCode: 429 })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const queued = [1, 2, 3].map(async (value) => await lane.run(async () => value))
  const errors = await Promise.all(queued.map(async (p) => await p.then(() => undefined, (e: CodedError) => e)))
  for (const error of errors) {
    t.equal(error?.code, 'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED')
    t.equal(error?.statusCode, 429)
  }
  hold.resolve('r')
  t.equal(await running, 'r')
  t.match(lane.stats(), { shed: 3, completed: 1, inFlight: 0 })
})

t.test('dwell: busy is reported only once the raw state has held', async (t) => {
  const lane = createLane(t, { concurrency: 1, dwell: { busy: 10_000, free: 0 } })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const queued = lane.run(async () => 'q')
  t.equal(lane.busy, false, 'not reported yet')
  hold.resolve('r')
  await Promise.all([running, queued])
  t.same(lane.stats().transitions, { busy: 0, free: 0 }, 'a blip shorter than the dwell is never reported')
})

t.test('a listener that throws goes to onListenerError and breaks nothing', async (t) => {
  const caught: unknown[] = []
  const lane = createLane(t, { concurrency: 1 }, { onListenerError: (error) => caught.push(error) })
  lane.on('busy', () => { throw new Error('listener bug') })
  const hold = deferred()
  const calls = [lane.run(async () => await hold.promise), lane.run(async () => 2)]
  hold.resolve(1)
  t.same(await Promise.all(calls), [1, 2])
  t.equal(caught.length, 1)
})

t.test('without onListenerError, a throwing listener is a process warning', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  lane.on('busy', () => { throw new Error('listener bug') })
  lane.on('busy', () => { throw 'not an error' }) // eslint-disable-line no-throw-literal
  const warnings: string[] = []
  const onWarning = (warning: Error): void => { warnings.push(warning.message) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const hold = deferred()
  const calls = [lane.run(async () => await hold.promise), lane.run(async () => 2)]
  await once(process, 'warning')
  await new Promise((resolve) => setImmediate(resolve)) // the second warning, on the next tick
  t.same(warnings, ['listener bug', 'not an error'])
  hold.resolve(1)
  await Promise.all(calls)
})

t.test('adaptive concurrency: the limit falls when latency rises, emits concurrency, and never leaves [min, max]', async (t) => {
  const lane = createLane(t, { concurrency: { adaptive: { min: 2, max: 40, initial: 20 } } })
  const capacities: number[] = []
  lane.on('concurrency', (concurrency) => capacities.push(concurrency))
  t.equal(lane.concurrency, 20)
  const batch = async (ms: number, count: number): Promise<void> => {
    await Promise.all(Array.from({ length: count }, async () => await lane.run(async () => await new Promise((resolve) => setTimeout(resolve, ms)))))
  }
  for (let i = 0; i < 4; i++) await batch(2, 20) // baseline: fast calls
  const before = lane.concurrency
  for (let i = 0; i < 6; i++) await batch(60, 20) // the upstream slows 30-fold
  t.ok(lane.concurrency < before, `the limit fell (${before} → ${lane.concurrency})`)
  t.ok(capacities.length > 0, 'concurrency events were emitted')
  t.equal(capacities.at(-1), lane.concurrency, 'the last event carries the current limit')
  t.ok(capacities.every((c) => c >= 2 && c <= 40), 'within [min, max]')
})

t.test('adaptive concurrency: timeouts shrink the limit', async (t) => {
  const lane = createLane(t, { concurrency: { adaptive: { min: 1, max: 100, initial: 50 } }, timeout: 5 })
  const hang = deferred()
  const calls = Array.from({ length: 5 }, async () => await codeOf(lane.run(async (signal) => {
    await new Promise((resolve) => { signal.addEventListener('abort', resolve) })
  })))
  t.same(await Promise.all(calls), Array(5).fill('FST_BACKPRESSURE_TASK_TIMEOUT'))
  hang.resolve(undefined)
  t.ok(lane.concurrency < 50, `the limit fell (${lane.concurrency})`)
})

t.test('close past its bound with a stopped call whose function never returned: settled once, not twice', async (t) => {
  const lane = createLane(t, { concurrency: 1, closeTimeout: 10 })
  const controller = new AbortController()
  const stubborn = lane.run(async () => await new Promise(() => {}), { signal: controller.signal })
  const queued = lane.run(async () => 'q')
  controller.abort()
  t.equal(await codeOf(stubborn), 'FST_BACKPRESSURE_TASK_ABORTED')
  await lane.close()
  t.equal(await codeOf(queued), 'FST_BACKPRESSURE_CLOSED')
  t.match(lane.stats(), { aborted: 1, rejected: 1, inFlight: 0, submitted: 2 })
  checkInvariant(t, lane)
})

t.test('dispatch: reported once someone listens, never with a made-up wait for calls submitted before', async (t) => {
  const lane = createLane(t, { concurrency: 1 })
  const hold = deferred()
  const running = lane.run(async () => await hold.promise)
  const queuedBefore = lane.run(async () => 'before')
  const waits: number[] = []
  lane.on('dispatch', (waitMs) => waits.push(waitMs))
  hold.resolve('r')
  t.same(await Promise.all([running, queuedBefore]), ['r', 'before'])
  t.same(waits, [], 'the call queued before the listener has no submission time')
  await lane.run(async () => 'after')
  t.equal(waits.length, 1)
  t.ok(waits[0]! >= 0 && waits[0]! < 1000, `a real wait (${waits[0]} ms)`)
})
