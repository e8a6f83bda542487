import t from 'tap'
import { BusyTracker, type QueueSource, type Transition } from '../../../lib/executor/busy.js'
import type { PoolSnapshot } from '../../../lib/pool/pool.js'
import { createPool, seededRandom } from '../../helpers/pool.js'
import { runs } from '../../helpers/tier.js'

t.test('fires once per change, never on a recompute in the same state', async (t) => {
  const source: QueueSource & { queueSize: number, idleThreads: number } = { queueSize: 0, idleThreads: 2 }
  const seen: Transition[] = []
  const tracker = new BusyTracker(source, (to) => { seen.push(to) })
  t.equal(tracker.recompute(), false)
  source.queueSize = 2
  t.equal(tracker.recompute(), false, 'queued == idle is not busy')
  source.queueSize = 3
  t.equal(tracker.recompute(), true)
  t.equal(tracker.recompute(), true)
  source.idleThreads = 0
  t.equal(tracker.recompute(), true)
  source.queueSize = 0
  tracker.recompute()
  tracker.recompute()
  t.same(seen, ['busy', 'free'])
  t.equal(tracker.busy, false)
})

/**
 * The tracker against the live figures (tasks waiting in the pool's own queue plus piscina's,
 * against piscina's idle threads) under random load: tasks that block, echo, throw, crash their
 * thread, get aborted (queued or running) or time out, submitted in bursts and at random moments. It is checked at every reported transition (inside the listener) and at random
 * instants in between; it must never disagree with `queued > idleThreads`.
 */
t.test('never disagrees with the live figures under random load with aborts and crashes', async (t) => {
  const OPS_PER_SEED = 400
  // The unit loop runs seed 1 (stricterFIFO); test/lib/pool/pool-property.test.ts covers the other order there.
  const seeds = runs([1, 2, 3], [1])
  let checks = 0
  let transitionChecks = 0
  const totals = { crashed: 0, aborted: 0, errored: 0, timedOut: 0 }
  const disagreements: string[] = []

  for (const seed of seeds) {
    const random = seededRandom(seed)
    const pool = createPool(t, { minThreads: 1, maxThreads: 2, maxQueue: 24, stricterFIFO: seed % 2 === 1 })
    // The truth, read live: tasks waiting (the pool's own queue plus piscina's) against idle threads.
    const piscinaBusy = (): boolean => pool.snapshot().queued > pool.piscina.idleThreads
    const check = (where: string): void => {
      checks++
      if (pool.busy !== piscinaBusy()) {
        disagreements.push(`seed ${seed} ${where}: tracker ${String(pool.busy)}, queued ${pool.snapshot().queued} (piscina ${pool.piscina.queueSize}), idle ${pool.piscina.idleThreads}`)
      }
    }
    const events: string[] = []
    const onTransition = (to: Transition) => (snapshot: PoolSnapshot): void => {
      transitionChecks++
      events.push(to)
      check(`on ${to}`)
      if (snapshot.busy !== (to === 'busy')) disagreements.push(`seed ${seed}: ${to} event with snapshot.busy ${String(snapshot.busy)}`)
    }
    pool.on('busy', onTransition('busy'))
    pool.on('free', onTransition('free'))

    // Random instants: a sampler that re-arms itself at 0–2 ms until the load is over.
    let sampling = true
    const sampler = (): void => {
      if (!sampling) return
      check('sampler')
      setTimeout(sampler, Math.floor(random() * 3)).unref()
    }
    sampler()

    const settled: Array<Promise<unknown>> = []
    let submitted = 0
    while (submitted < OPS_PER_SEED) {
      // A burst of 1–6 submissions in the same tick, then a pause of a random kind.
      const burst = Math.min(OPS_PER_SEED - submitted, 1 + Math.floor(random() * 6))
      let last: Promise<unknown> = Promise.resolve()
      for (let b = 0; b < burst; b++, submitted++) {
        const roll = random()
        let promise: Promise<unknown>
        if (roll < 0.5) {
          promise = pool.run({ op: 'block', ms: 1 + Math.floor(random() * 4) })
        } else if (roll < 0.65) {
          promise = pool.run({ op: 'echo', value: submitted })
        } else if (roll < 0.75) {
          const controller = new AbortController()
          promise = pool.run({ op: 'block', ms: 20 }, { signal: controller.signal })
          const after = Math.floor(random() * 6)
          if (after === 0) controller.abort()
          else setTimeout(() => { controller.abort() }, after)
        } else if (roll < 0.83) {
          promise = pool.run({ op: 'block', ms: 10 }, { timeout: 1 + Math.floor(random() * 8) })
        } else if (roll < 0.9) {
          promise = pool.run({ op: 'throw' })
        } else if (roll < 0.93) {
          promise = pool.run({ op: 'exit', code: 3 })
        } else {
          promise = pool.run({ op: 'sleep', ms: 2 })
        }
        check('after run')
        last = promise.then(() => { check('on resolve') }, () => { check('on reject') })
        settled.push(last)
      }
      const pause = random()
      if (pause < 0.4) await last // until the burst's last task settles
      else if (pause < 0.7) await new Promise((resolve) => setImmediate(resolve))
      else await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 15)))
      check('between bursts')
    }
    await Promise.all(settled)
    sampling = false
    check('after all settled')

    const stats = pool.stats()
    t.comment(`seed ${seed}: ${JSON.stringify(stats)}`)
    t.equal(stats.submitted, OPS_PER_SEED, `seed ${seed}: every submission counted`)
    t.equal(stats.inFlight, 0, `seed ${seed}: nothing in flight`)
    t.equal(stats.completed + stats.rejected + stats.shed + stats.aborted + stats.timedOut + stats.errored + stats.crashed, OPS_PER_SEED, `seed ${seed}: counters add up`)
    totals.crashed += stats.crashed
    totals.aborted += stats.aborted
    totals.errored += stats.errored
    totals.timedOut += stats.timedOut
    t.ok(stats.transitions.busy > 0, `seed ${seed}: the pool went busy`)
    const snapshot = pool.snapshot()
    t.equal(snapshot.queued, 0)
    t.equal(snapshot.running, 0)
    t.equal(snapshot.busy, false)
    // Exactly once per transition: they alternate, starting with busy, and match the counters.
    t.ok(events.every((to, index) => to === (index % 2 === 0 ? 'busy' : 'free')), `seed ${seed}: transitions alternate`)
    t.equal(events.filter((to) => to === 'busy').length, stats.transitions.busy)
    t.equal(events.filter((to) => to === 'free').length, stats.transitions.free)
    await pool.close()
  }

  t.ok(totals.crashed > 0 && totals.aborted > 0 && totals.errored > 0 && totals.timedOut > 0, `crashes, aborts, throws and timeouts happened: ${JSON.stringify(totals)}`)
  t.same(disagreements, [], 'the tracker never disagreed with the live figures')
  t.ok(checks > 1000 * seeds.length, `over a thousand checks per seed (${checks}, ${transitionChecks} at transitions)`)
  t.comment(`tracker checks: ${checks} (${transitionChecks} at transitions), ${disagreements.length} disagreements`)
})
