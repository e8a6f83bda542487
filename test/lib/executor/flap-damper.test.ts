import { createClock, type Clock } from '@sinonjs/fake-timers'
import t from 'tap'
import { FlapDamper, type DamperTimers } from '../../../lib/executor/busy.js'
import type { PoolSnapshot } from '../../../lib/pool/pool.js'
import { GATE_WORKER, Gate, createPool } from '../../helpers/pool.js'

/**
 * The damper's timers from a @sinonjs/fake-timers clock of its own (not installed over the
 * globals): time moves only when `clock.tick()` says so. Under Node the clock's timers have
 * ref()/unref(), as Node's do; its types say `number | object` because it also fakes browsers'.
 */
function damperTimers (clock: Clock): DamperTimers {
  return {
    setTimeout: (callback, ms) => clock.setTimeout(callback, ms) as NodeJS.Timeout,
    clearTimeout: (timer) => { clock.clearTimeout(timer as NodeJS.Timeout) }
  }
}

t.test('without dwell times every change is reported at once', async (t) => {
  const reports: boolean[] = []
  const damper = new FlapDamper({ toBusyMs: 0, toFreeMs: 0 }, (busy) => { reports.push(busy) })
  damper.update(true)
  damper.update(true)
  damper.update(false)
  t.same(reports, [true, false])
  t.equal(damper.busy, false)
  damper.dispose()
})

t.test('a change is reported only after it held for its dwell time (fake timers)', async (t) => {
  const clock = createClock(0)
  const reports: Array<[boolean, number]> = []
  const damper = new FlapDamper({ toBusyMs: 50, toFreeMs: 200 }, (busy) => { reports.push([busy, clock.now]) }, damperTimers(clock))
  damper.update(true)
  clock.tick(49)
  t.same(reports, [], 'not before 50 ms')
  damper.update(true) // the same raw state again does not restart the wait
  clock.tick(1)
  t.same(reports, [[true, 50]], 'busy after 50 ms')
  t.equal(damper.busy, true)

  damper.update(false)
  clock.tick(150)
  damper.update(true) // a flap back to busy before 200 ms: nothing to report
  t.equal(clock.countTimers(), 0, 'the pending report was cancelled')
  clock.tick(1000)
  t.same(reports, [[true, 50]], 'the short free spell was never reported')

  damper.update(false)
  clock.tick(199)
  t.equal(damper.busy, true)
  clock.tick(1)
  t.same(reports, [[true, 50], [false, 1400]], 'free after it held 200 ms')

  damper.update(true)
  t.equal(clock.countTimers(), 1)
  damper.dispose()
  t.equal(clock.countTimers(), 0, 'dispose cancels a pending report')
  damper.dispose()
})

t.test('real timers: a pending report fires, and dispose() clears it', async (t) => {
  // The damper's timer is unref()'d, so this test holds the event loop open itself meanwhile.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => { clearInterval(keepAlive) })
  const fired = new Promise<boolean>((resolve) => {
    const damper = new FlapDamper({ toBusyMs: 5, toFreeMs: 5 }, resolve)
    damper.update(true)
  })
  t.equal(await fired, true)
  let reported = false
  const cancelled = new FlapDamper({ toBusyMs: 5, toFreeMs: 5 }, () => { reported = true })
  cancelled.update(true)
  cancelled.dispose()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(reported, false, 'nothing reported after dispose()')
})

t.test('the pool reports busy/free only after the dwell times (fake timers, real piscina)', async (t) => {
  const clock = createClock(0)
  const pool = createPool(t, { filename: GATE_WORKER, minThreads: 1, maxThreads: 1, dwell: { busy: 1000, free: 500 } }, { dwellTimers: damperTimers(clock) })
  await pool.run({ op: 'echo', value: 'warm' })
  const reports: Array<[string, PoolSnapshot]> = []
  pool.on('busy', (s) => { reports.push(['busy', s]) })
  pool.on('free', (s) => { reports.push(['free', s]) })

  // A short saturation, over before the busy dwell time: never reported.
  const gate = new Gate()
  const burst = [pool.run({ op: 'gate', gate: gate.cell }), pool.run({ op: 'echo', value: 1 })]
  t.equal(pool.snapshot().queued > pool.piscina.idleThreads, true, 'raw state: busy')
  t.equal(pool.busy, false, 'reported state: still free')
  gate.open()
  await Promise.all(burst)
  clock.tick(5000)
  t.same(reports, [], 'a spell shorter than the dwell time is not reported')

  // A saturation that lasts: reported once the dwell time has passed, with the snapshot then.
  const gate2 = new Gate()
  const held = [pool.run({ op: 'gate', gate: gate2.cell }), pool.run({ op: 'echo', value: 2 })]
  clock.tick(999)
  t.equal(pool.busy, false)
  clock.tick(1)
  t.equal(pool.busy, true)
  t.match(reports, [['busy', { busy: true, queued: 1 }]])
  gate2.open()
  await Promise.all(held)
  t.equal(pool.busy, true, 'free not reported before its dwell time')
  clock.tick(500)
  t.equal(pool.busy, false)
  t.same(reports.map(([to]) => to), ['busy', 'free'])
  t.same(pool.stats().transitions, { busy: 1, free: 1 }, 'counters count reported transitions')
})
