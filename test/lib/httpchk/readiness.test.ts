import { EventEmitter } from 'node:events'
import t from 'tap'
import { PROBE_STATES, Readiness, STATE_TABLE, type ReadinessExecutor } from '../../../lib/httpchk/readiness.js'

/** A stand-in executor whose flags the test sets: readiness only reads them. */
class FakeExecutor extends EventEmitter implements ReadinessExecutor {
  busy = false
  down = false
  concurrency = 2
  queued = 0
  running = 0
  constructor (readonly name: string, readonly affectsProbe = true) { super() }
  snapshot (): { busy: boolean, queued: number, running: number, completed: number, failed: number, concurrency: number } {
    return { busy: this.busy, queued: this.queued, running: this.running, completed: 0, failed: 0, concurrency: this.concurrency }
  }
}

t.test('precedence: draining > down > starting > not-ready > busy > free; the reason names the causes', async (t) => {
  const pool = new FakeExecutor('pool')
  let pressure = false
  const readiness = new Readiness({ executors: () => [pool], underPressure: () => pressure })
  t.equal(readiness.state(), 'starting')
  t.equal(readiness.reason(), 'starting')
  readiness.markStarted()
  t.equal(readiness.state(), 'free')
  t.equal(readiness.reason(), undefined)
  pressure = true
  t.equal(readiness.state(), 'busy', 'under pressure')
  t.equal(readiness.reason(), 'busy: under-pressure')
  pool.busy = true
  t.equal(readiness.reason(), 'busy: pool, under-pressure', 'every cause, by name')
  pressure = false
  t.equal(readiness.state(), 'busy')
  t.equal(readiness.reason(), 'busy: pool')
  readiness.setNotReady('warming')
  readiness.checkFailed('db', 'connect ECONNREFUSED 10.0.0.5:5432')
  t.equal(readiness.state(), 'not-ready', 'not-ready outranks busy')
  t.equal(readiness.reason(), 'not-ready: warming, db', 'a check by its name, never its error')
  t.same(readiness.checkErrors(), { db: 'connect ECONNREFUSED 10.0.0.5:5432' }, 'the error is kept apart')
  readiness.setReady()
  t.equal(readiness.reason(), 'not-ready: db', 'each source clears its own reason')
  readiness.checkPassed('db')
  t.same(readiness.checkErrors(), {})
  t.equal(readiness.state(), 'busy')
  pool.down = true
  t.equal(readiness.state(), 'down')
  t.equal(readiness.reason(), 'down: pool')
  t.equal(readiness.startDraining(), true)
  t.equal(readiness.startDraining(), false, 'once')
  t.equal(readiness.state(), 'draining', 'a shutdown is not an outage')
  t.equal(readiness.reason(), 'draining')
  t.equal(readiness.draining, true)
})

t.test('a lane with affectsProbe false never makes the process busy nor counts in the agent\'s load, but counts when down', async (t) => {
  const pool = new FakeExecutor('pool')
  const lane = new FakeExecutor('audit', false)
  const readiness = new Readiness({ executors: () => [pool, lane] })
  readiness.markStarted()
  lane.busy = true
  lane.queued = 3
  lane.running = 2
  pool.running = 1
  t.equal(readiness.state(), 'free')
  t.same(readiness.load(), { executors: [{ queued: 0, running: 1, concurrency: 2 }] }, 'the lane that does not affect the probe is not told to the balancer')
  t.same(Object.keys(readiness.snapshots()), ['pool', 'audit'])
  lane.down = true
  t.equal(readiness.state(), 'down')
  t.equal(readiness.reason(), 'down: audit')
})

t.test('the state table: only free answers 200; the agent drains for starting, not-ready and draining; busy weighs at the floor; every cause belongs to one state', async (t) => {
  t.same(PROBE_STATES.filter((state) => STATE_TABLE[state].probeOk), ['free'])
  t.same(Object.fromEntries(PROBE_STATES.map((state) => [state, `${STATE_TABLE[state].agent} ${STATE_TABLE[state].weight}`])), {
    starting: 'drain load', free: 'ready load', busy: 'ready floor', 'not-ready': 'drain load', draining: 'drain load', down: 'down none'
  })
  const causes = PROBE_STATES.flatMap((state) => STATE_TABLE[state].causes)
  t.same(causes.toSorted(), ['app', 'check', 'draining', 'executor-busy', 'executor-down', 'starting', 'under-pressure'])
  t.equal(new Set(causes).size, causes.length, 'no cause in two states')
  t.same(STATE_TABLE.free.causes, [], 'free has no cause')
})
