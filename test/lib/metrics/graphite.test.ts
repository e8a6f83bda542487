// GraphitePusher against a real TCP listener on 127.0.0.1: the plaintext lines it writes, the
// listener going away and coming back, errors that never escape, dropped pushes instead of buffers.
import t from 'tap'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { GraphitePusher, formatLines, reconnectDelay, type GraphiteFigure, type GraphitePusherOptions } from '../../../lib/metrics/graphite.js'
import { startGraphiteListener } from '../../helpers/graphite-listener.js'

const LINE = /^[a-z0-9_.]+ -?[0-9.e+-]+ [0-9]+$/

/**
 * Waits for `promise` with a ref'd safety timer. The pusher's own timers and socket are unref'd (it
 * must never keep an app alive), so while the listener is away nothing else would keep this test
 * process running; the timer also fails a hung wait instead of letting it stall the suite.
 */
async function guarded<T> (promise: Promise<T>, timeoutMs = 10000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`nothing happened within ${timeoutMs} ms`)) }, timeoutMs)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A pusher whose connects and errors are promises the test can wait on. */
function makePusher (overrides: Partial<GraphitePusherOptions> & Pick<GraphitePusherOptions, 'port'>) {
  const errors: Error[] = []
  let connects = 0
  let onConnected: Array<() => void> = []
  let onErrored: Array<() => void> = []
  const pusher = new GraphitePusher({
    host: '127.0.0.1',
    prefix: 'test.app',
    intervalMs: 25,
    reconnectMinMs: 10,
    reconnectMaxMs: 80,
    read: () => [['pool.busy', 1], ['pool.queue_depth', 42]],
    onError (error) {
      errors.push(error)
      const waiting = onErrored
      onErrored = []
      for (const resolve of waiting) resolve()
    },
    onConnect () {
      connects++
      const waiting = onConnected
      onConnected = []
      for (const resolve of waiting) resolve()
    },
    ...overrides
  })
  return {
    pusher,
    errors,
    /** Resolves once the pusher has opened `n` connections in all. */
    async connected (n: number): Promise<void> {
      // eslint-disable-next-line no-unmodified-loop-condition -- `connects` grows in a callback while the loop waits
      while (connects < n) await guarded(new Promise<void>((resolve) => { onConnected.push(resolve) }))
    },
    /** Resolves once the pusher has reported `n` errors in all. */
    async errored (n: number): Promise<void> {
      while (errors.length < n) await guarded(new Promise<void>((resolve) => { onErrored.push(resolve) }))
    }
  }
}

t.test('reconnectDelay doubles from the minimum up to the cap, jittered within [delay/2, delay]', async (t) => {
  const full = [1, 2, 3, 4, 5, 6, 7].map((attempt) => reconnectDelay(attempt, 100, 1000, () => 1))
  t.same(full, [100, 200, 400, 800, 1000, 1000, 1000])
  const half = [1, 2, 3, 4, 5].map((attempt) => reconnectDelay(attempt, 100, 1000, () => 0))
  t.same(half, [50, 100, 200, 400, 500])
  t.equal(reconnectDelay(1000, 100, 30000, () => 1), 30000, 'a huge attempt count stays at the cap')
  t.equal(reconnectDelay(0, 100, 1000, () => 1), 100, 'attempt 0 is treated as the first')
  const delays = Array.from({ length: 200 }, () => reconnectDelay(3, 100, 1000))
  t.ok(delays.every((delay) => delay >= 200 && delay <= 400), 'random jitter stays within [200, 400]')
  t.ok(new Set(delays).size > 1, 'and does vary')
})

t.test('formatLines writes "prefix.path value timestamp\\n" and leaves out non-finite values', async (t) => {
  const figures: GraphiteFigure[] = [['a.b', 1], ['c', 0.25], ['nan', Number.NaN], ['inf', Infinity], ['d', -3]]
  t.equal(formatLines('p.q', figures, 1700000000), 'p.q.a.b 1 1700000000\np.q.c 0.25 1700000000\np.q.d -3 1700000000\n')
  t.equal(formatLines('p', [], 1), '')
})

t.test('pushes every figure on the interval, with a timestamp in seconds, on one connection', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  const { pusher } = makePusher({ port: listener.port })
  t.teardown(() => { pusher.stop() })
  const before = Math.floor(Date.now() / 1000)
  pusher.start()
  pusher.start() // a second start does nothing (one connection, one interval)
  const busy = await listener.waitForLine((line) => line.path === 'test.app.pool.busy')
  const depth = await listener.waitForLine((line) => line.path === 'test.app.pool.queue_depth')
  t.match(busy.raw, LINE)
  t.equal(busy.value, 1)
  t.equal(depth.value, 42)
  t.ok(busy.timestamp >= before && busy.timestamp <= Math.floor(Date.now() / 1000), 'timestamp is now, in seconds')
  // Wait for the third push: pushes keep coming on the interval.
  let busyLines = 0
  await listener.waitForLine((line) => line.path === 'test.app.pool.busy' && ++busyLines >= 3)
  t.equal(listener.connections, 1)
  t.equal(pusher.connected, true)
  const stats = pusher.stats()
  t.ok(stats.pushes >= 3, `pushed ${stats.pushes} times`)
  t.equal(stats.lines, stats.pushes * 2)
  t.equal(stats.connects, 1)
})

t.test('the listener going away and coming back: errors are reported, never thrown, and pushing resumes', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  let value = 1
  const p = makePusher({ port: listener.port, read: () => [['value', value]] })
  t.teardown(() => { p.pusher.stop() })
  p.pusher.start()
  await listener.waitForLine((line) => line.path === 'test.app.value' && line.value === 1)

  // Away: the connection is cut and nothing listens. The pusher retries (ECONNREFUSED each time).
  await listener.stop()
  await p.errored(3)
  t.ok(p.errors.every((error) => (error as NodeJS.ErrnoException).code === 'ECONNREFUSED'), 'connection refused, reported')
  t.equal(p.pusher.connected, false)
  const droppedBefore = p.pusher.stats().dropped
  t.equal(await p.pusher.push(), false, 'a push while disconnected is dropped, not buffered')
  t.equal(p.pusher.stats().dropped, droppedBefore + 1)

  // Back, on the same port: the pusher reconnects by itself and the new figures arrive.
  value = 2
  await listener.start()
  const line = await listener.waitForLine((line) => line.value === 2)
  t.equal(line.connection, 2, 'arrived on a new connection')
  t.equal(p.pusher.connected, true)
  t.equal(p.pusher.stats().connects, 2)
  t.notOk(listener.lines.some((l) => l.value === 2 && l.connection === 1), 'nothing was sent on the dead connection')
})

t.test('stop() destroys the socket, clears the timers and keeps it stopped', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  const p = makePusher({ port: listener.port })
  p.pusher.start()
  await listener.waitForLine(() => true)
  const disconnected = listener.waitForDisconnect(1)
  p.pusher.stop()
  await disconnected
  t.equal(p.pusher.connected, false)
  const linesFromFirst = listener.lines.length
  p.pusher.start() // cannot restart
  t.equal(await p.pusher.push(), false)
  // A second pusher connects and pushes several times; in that time a live timer of the stopped
  // one (interval 25 ms, reconnect <= 80 ms) would have reconnected or written.
  const probe = makePusher({ port: listener.port, prefix: 'probe' })
  probe.pusher.start()
  let probeLines = 0
  await listener.waitForLine((line) => line.path.startsWith('probe.') && ++probeLines >= 10)
  probe.pusher.stop()
  t.equal(listener.connections, 2, 'only the probe connected again; the stopped pusher did not')
  t.equal(listener.lines.filter((l) => l.connection === 1).length, linesFromFirst)
})

t.test('a read that throws is reported and the next push goes out', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  let calls = 0
  const p = makePusher({
    port: listener.port,
    read: () => {
      calls++
      if (calls === 1) throw new Error('read failed')
      if (calls === 2) throw 'not an error' // eslint-disable-line no-throw-literal
      if (calls === 3) return Promise.reject(new Error('read rejected'))
      return [['ok', calls]]
    }
  })
  t.teardown(() => { p.pusher.stop() })
  p.pusher.start()
  // The first reads may happen before the connection opens (dropped without a read), so wait for
  // both errors rather than count reads.
  await p.errored(3)
  const line = await listener.waitForLine((line) => line.path === 'test.app.ok')
  t.ok(line.value >= 4)
  t.equal(p.errors[0]?.message, 'read failed')
  t.equal(p.errors[1]?.message, 'not an error', 'a thrown non-Error is wrapped')
  t.equal(p.errors[2]?.message, 'read rejected', 'a rejection is reported as a throw is')
})

t.test('a connection lost while the figures are read: the push is dropped, not written later', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  let release!: () => void
  const figures = new Promise<GraphiteFigure[]>((resolve) => { release = () => { resolve([['late', 1]]) } })
  const p = makePusher({ port: listener.port, intervalMs: 60000, read: async () => await figures })
  t.teardown(() => { p.pusher.stop() })
  p.pusher.start()
  await p.connected(1)
  const pushed = p.pusher.push()
  p.pusher.stop()
  release()
  t.equal(await pushed, false)
  t.same(p.pusher.stats(), { pushes: 0, lines: 0, dropped: 1, connects: 1, errors: 0 })
  t.notOk(listener.lines.some((line) => line.path === 'test.app.late'))
})

t.test('an empty reading writes nothing', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  const p = makePusher({ port: listener.port, intervalMs: 60000, read: () => [['nan', Number.NaN]] })
  t.teardown(() => { p.pusher.stop() })
  p.pusher.start()
  await p.connected(1)
  t.equal(await p.pusher.push(), false)
  t.equal(p.pusher.stats().pushes, 0)
})

t.test('a push is dropped, not buffered, while carbon is not reading', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  // ~450 KB per push: a few dozen pushes fill the loopback socket buffers once carbon stops reading.
  const node = 'n'.repeat(200)
  const figures: GraphiteFigure[] = Array.from({ length: 2000 }, (_, i): GraphiteFigure => [`${node}.f${i}`, i])
  const p = makePusher({ port: listener.port, intervalMs: 60000, read: () => figures })
  t.teardown(() => { p.pusher.stop() })
  p.pusher.start()
  await p.connected(1)
  await listener.waitForConnection(1)
  listener.pause()
  let written = 0
  // Bounded: 400 pushes (180 MB) is far more than any loopback buffer holds.
  while (written < 400 && await p.pusher.push()) written++
  t.ok(written > 0 && written < 400, `the socket took ${written} pushes, then pushed back`)
  t.equal(await p.pusher.push(), false, 'the next push is dropped too')
  t.same(p.pusher.stats(), { pushes: written, lines: written * 2000, dropped: 2, connects: 1, errors: 0 })
  listener.resume()
  // Everything written arrives, and not one line of the dropped pushes.
  const lastLine = `test.app.${node}.f1999`
  let lastLines = 0
  await listener.waitForLine((line) => line.path === lastLine && ++lastLines === written)
  t.equal(listener.lines.length, written * 2000)
})

t.test('hooks that throw never escape the socket handlers', async (t) => {
  const listener = await startGraphiteListener(t.teardown)
  let connects = 0
  const pusher = new GraphitePusher({
    host: '127.0.0.1',
    port: listener.port,
    prefix: 'x',
    intervalMs: 20,
    read: () => [['v', 1]],
    onConnect () { connects++; throw new Error('bad hook') }
  })
  t.teardown(() => { pusher.stop() })
  pusher.start()
  await listener.waitForLine((line) => line.path === 'x.v')
  t.equal(connects, 1)
})

t.test('without hooks, a refused connection is swallowed and retried', async (t) => {
  // A port that refuses: reserve one, then free it.
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  const pusher = new GraphitePusher({ host: '127.0.0.1', port, prefix: 'x', intervalMs: 10, reconnectMinMs: 5, reconnectMaxMs: 10, read: () => [['v', 1]] })
  t.teardown(() => { pusher.stop() })
  pusher.start()
  // Without an onError hook there is no event to wait on: look at the pusher's counters each
  // turn of a short ref'd interval until it has failed twice (each retry is a new error).
  await guarded(new Promise<void>((resolve) => {
    const check = setInterval(() => { if (pusher.stats().errors >= 2) { clearInterval(check); resolve() } }, 5)
  }))
  t.equal(pusher.connected, false)
  t.equal(pusher.stats().connects, 0)
})
