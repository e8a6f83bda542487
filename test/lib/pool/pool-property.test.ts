/**
 * Property test: random interleavings of run, abort, timeout, crash, queue-full, displacement and
 * close, with random priorities, against the pool and against a lane (the same core). Whatever the
 * interleaving, afterwards every promise has settled exactly once, the executor shows nothing
 * queued or running, the counters add up (by priority too), and the busy tracker never disagreed
 * with the truth (piscina's idle threads; the lane's free slots).
 */
import t, { type Test } from 'tap'
import type { PriorityFigures } from '../../../lib/executor/engine.js'
import type { ExecutorStats } from '../../../lib/executor/types.js'
import type { LaneSnapshot } from '../../../lib/lane/lane.js'
import type { PoolSnapshot } from '../../../lib/pool/pool.js'
import { createLane, createPool, seededRandom } from '../../helpers/pool.js'
import { runs } from '../../helpers/tier.js'

const SEEDS = [11, 22, 33, 44, 55, 66, 77, 88, 99, 110, 121, 132]
const OPS = 160

/** A random priority: the default (undefined) a third of the time, else one of -2 … 2. */
function randomPriority (random: () => number): number | undefined {
  return random() < 1 / 3 ? undefined : Math.floor(random() * 5) - 2
}

/** Settles-once bookkeeping: a call that settled twice, or never, shows up here. */
function settleOnce (settled: Set<number>, twice: number[], id: number): void {
  if (settled.has(id)) twice.push(id)
  settled.add(id)
}

/** The figures by priority add up to stats(). */
function checkByPriority (t: Test, figures: PriorityFigures[], stats: ExecutorStats): void {
  for (const reason of ['rejected', 'displaced', 'shed'] as const) {
    t.equal(figures.reduce((sum, f) => sum + f.refused[reason], 0), stats[reason], `${reason}, summed over priorities`)
  }
  t.equal(figures.reduce((sum, f) => sum + f.queued, 0), 0, 'nothing queued at any priority')
}
// The pool runs are the slow ones (threads crash and restart). The unit loop runs the first seed of
// each pool configuration (closeTimeout short or long, by seed % 2; maxQueue 16 or 4, by seed % 3);
// the lane runs are cheap and run every seed in both loops.
const POOL_SEEDS = runs(SEEDS, [11, 22, 33, 66])

for (const seed of POOL_SEEDS) {
  t.test(`seed ${seed}`, async (t) => {
    const random = seededRandom(seed)
    const closeAt = Math.floor(OPS * (0.5 + random() * 0.5))
    const pool = createPool(t, {
      minThreads: 1,
      maxThreads: 2,
      // A short queue refuses often; a longer one keeps tasks queued through aborts, deadlines and the close.
      maxQueue: seed % 3 === 0 ? 16 : 4,
      // Half the seeds close with a short closeTimeout, so the close also destroys running tasks.
      closeTimeout: seed % 2 === 0 ? 30 : 5000
    })
    await pool.run({ op: 'echo', value: 'warm' }, { timeout: 20_000 }) // start from a ready thread
    const disagreements: string[] = []
    let checks = 0
    const check = (where: string): void => {
      checks++
      // The truth, read live: tasks waiting (the pool's own queue plus piscina's) against idle threads.
      const real = pool.snapshot().queued > pool.piscina.idleThreads
      if (pool.busy !== real) disagreements.push(`${where}: tracker ${String(pool.busy)}, real ${String(real)} (queued ${pool.snapshot().queued}, piscina queue ${pool.piscina.queueSize}, idle ${pool.piscina.idleThreads}, threads ${pool.piscina.threads.length}, closing ${String(pool.closing)})`)
      // The engine stops re-reading busy while its own queue is longer than the concurrency, which
      // holds only while no count of free slots exceeds it (Runner.idle), through crashes and restarts.
      if (pool.piscina.idleThreads > pool.concurrency) disagreements.push(`${where}: ${pool.piscina.idleThreads} idle threads, concurrency ${pool.concurrency}`)
    }
    const transitions: string[] = []
    const onTransition = (to: string) => (snapshot: PoolSnapshot): void => {
      transitions.push(to)
      check(`on ${to}`)
      if (snapshot.busy !== (to === 'busy')) disagreements.push(`${to} with snapshot.busy ${String(snapshot.busy)}`)
    }
    pool.on('busy', onTransition('busy'))
    pool.on('free', onTransition('free'))

    let unsettled = 0
    const settled = new Set<number>()
    const twice: number[] = []
    const outcomes = new Map<string, number>()
    const all: Array<Promise<void>> = []
    let closing: Promise<void> | undefined
    for (let op = 0; op < OPS; op++) {
      if (op === closeAt) closing = pool.close()
      const roll = random()
      const priority = randomPriority(random)
      let promise: Promise<unknown>
      if (roll < 0.35) {
        promise = pool.run({ op: 'block', ms: 1 + Math.floor(random() * 5) }, { priority })
      } else if (roll < 0.5) {
        const controller = new AbortController()
        promise = pool.run({ op: 'block', ms: 30 }, { signal: controller.signal, timeout: random() < 0.5 ? 0 : 50, priority })
        const after = Math.floor(random() * 8)
        if (after === 0) controller.abort()
        else setTimeout(() => { controller.abort() }, after)
      } else if (roll < 0.65) {
        promise = pool.run({ op: 'block', ms: 20 }, { timeout: 1 + Math.floor(random() * 10), priority })
      } else if (roll < 0.72) {
        promise = pool.run({ op: 'exit', code: 9 }, { priority })
      } else if (roll < 0.8) {
        promise = pool.run({ op: 'throw' }, { priority })
      } else {
        promise = pool.run({ op: 'echo', value: op }, { priority })
      }
      check('after run')
      unsettled++
      promise.then(() => { settleOnce(settled, twice, op) }, () => { settleOnce(settled, twice, op) })
      all.push(promise.then(
        () => { outcomes.set('completed', (outcomes.get('completed') ?? 0) + 1) },
        (error: Error & { code?: string }) => { outcomes.set(error.code ?? 'uncoded', (outcomes.get(error.code ?? 'uncoded') ?? 0) + 1) }
      ).finally(() => { unsettled--; check('on settle') }))
      const pause = random()
      if (pause < 0.4) continue
      // Until this task settles, or 50 ms: a queued task may only settle at the close below.
      if (pause < 0.6) await Promise.race([all[all.length - 1], new Promise((resolve) => setTimeout(resolve, 50))])
      else if (pause < 0.8) await new Promise((resolve) => setImmediate(resolve))
      else await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 6)))
    }
    // Bounded in time: if a task never settles, fail with what the pool looked like, not a hang.
    let watchdog: NodeJS.Timeout | undefined
    const stuck = new Promise<string>((resolve) => {
      watchdog = setTimeout(() => {
        resolve(`stuck after 30 s: ${unsettled} unsettled, closing ${String(pool.closing)}, down ${String(pool.down)}, queued ${pool.snapshot().queued}, threads ${pool.piscina.threads.length}, idle ${pool.piscina.idleThreads}, stats ${JSON.stringify(pool.stats())}`)
      }, 30_000)
    })
    const outcome = await Promise.race([Promise.all([...all, closing]).then(() => 'settled'), stuck])
    clearTimeout(watchdog)
    if (outcome !== 'settled') {
      t.fail(outcome)
      await pool.piscina.destroy()
      return
    }

    t.equal(pool.busy, pool.snapshot().queued > pool.piscina.idleThreads, 'the tracker agrees once closed')
    t.equal(unsettled, 0, 'every promise settled')
    t.equal(settled.size, OPS, 'every call settled')
    t.same(twice, [], 'none settled twice')
    t.equal(outcomes.get('uncoded'), undefined, 'every failure carries a code')
    const snapshot = pool.snapshot()
    t.equal(snapshot.queued, 0, 'nothing queued')
    t.equal(snapshot.running, 0, 'nothing running')
    const stats = pool.stats()
    t.equal(stats.submitted, OPS + 1, 'every run() counted (plus the warm-up)')
    t.equal(stats.submitted, stats.completed + stats.rejected + stats.displaced + stats.shed + stats.aborted + stats.timedOut + stats.errored + stats.crashed, 'submitted = completed + rejected + displaced + shed + aborted + timed out + errored + crashed')
    t.equal(stats.failed, stats.submitted - stats.completed)
    t.equal(stats.inFlight, 0)
    t.equal(stats.completed, (outcomes.get('completed') ?? 0) + 1, 'completed matches what callers saw (plus the warm-up)')
    // POOL_DOWN: piscina can leave the pool with no thread and tasks waiting (a thread it killed for
    // an abort may exit late and count as a start-up failure, after which piscina stops replacing
    // threads); the pool then reports down and rejects the stranded tasks instead of hanging.
    t.equal(stats.rejected + stats.displaced, (outcomes.get('FST_BACKPRESSURE_QUEUE_FULL') ?? 0) + (outcomes.get('FST_BACKPRESSURE_CLOSED') ?? 0) + (outcomes.get('FST_BACKPRESSURE_POOL_DOWN') ?? 0), 'rejected + displaced = queue full + closed + down')
    checkByPriority(t, pool.priorities(), stats)
    t.equal(stats.aborted, outcomes.get('FST_BACKPRESSURE_TASK_ABORTED') ?? 0)
    t.equal(stats.timedOut, outcomes.get('FST_BACKPRESSURE_TASK_TIMEOUT') ?? 0)
    t.equal(stats.crashed, outcomes.get('FST_BACKPRESSURE_WORKER_CRASHED') ?? 0)
    t.equal(stats.errored, outcomes.get('FST_BACKPRESSURE_TASK_FAILED') ?? 0)
    t.ok((outcomes.get('FST_BACKPRESSURE_CLOSED') ?? 0) + (outcomes.get('FST_BACKPRESSURE_POOL_DOWN') ?? 0) > 0, 'some runs met the close (or the pool went down first)')
    t.ok(transitions.every((to, index) => to === (index % 2 === 0 ? 'busy' : 'free')), 'transitions alternate')
    t.same(disagreements, [], `the tracker never disagreed (${checks} checks)`)
    t.comment(`seed ${seed}: ${JSON.stringify(Object.fromEntries(outcomes))}, ${stats.displaced} displaced, ${checks} checks`)
  })
}

/** An upstream call that takes `ms`, and stops early when its signal fires (unless it ignores it). */
function upstream (signal: AbortSignal, ms: number, ignoreSignal: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { resolve('done') }, ms)
    if (ignoreSignal) return
    signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) }, { once: true })
  })
}

for (const seed of SEEDS) {
  t.test(`lane, seed ${seed}`, async (t) => {
    const random = seededRandom(seed)
    const closeAt = Math.floor(OPS * (0.5 + random() * 0.5))
    const adaptive = seed % 4 === 1
    const lane = createLane(t, {
      concurrency: adaptive ? { adaptive: { min: 1, max: 6, initial: 3 } } : 1 + (seed % 3),
      maxQueue: seed % 3 === 0 ? 16 : 4,
      closeTimeout: seed % 2 === 0 ? 30 : 5000,
      admission: seed % 5 === 0 ? { target: 5, interval: 20 } : false
    }, {}, 'property')
    const disagreements: string[] = []
    let checks = 0
    const check = (where: string): void => {
      checks++
      const s = lane.snapshot()
      const real = s.queued > Math.max(0, s.concurrency - s.active)
      if (lane.busy !== real) disagreements.push(`${where}: tracker ${String(lane.busy)}, real ${String(real)} (${JSON.stringify(s)})`)
      if (s.active > s.concurrency && !adaptive) disagreements.push(`${where}: ${s.active} active over the concurrency ${s.concurrency}`)
    }
    const transitions: string[] = []
    const onTransition = (to: string) => (snapshot: LaneSnapshot): void => {
      transitions.push(to)
      check(`on ${to}`)
      if (snapshot.busy !== (to === 'busy')) disagreements.push(`${to} with snapshot.busy ${String(snapshot.busy)}`)
    }
    lane.on('busy', onTransition('busy'))
    lane.on('free', onTransition('free'))

    let unsettled = 0
    const settled = new Set<number>()
    const twice: number[] = []
    const outcomes = new Map<string, number>()
    const all: Array<Promise<void>> = []
    let closing: Promise<void> | undefined
    for (let op = 0; op < OPS; op++) {
      if (op === closeAt) closing = lane.close()
      const roll = random()
      const priority = randomPriority(random)
      let promise: Promise<unknown>
      if (roll < 0.35) {
        const ms = 1 + Math.floor(random() * 5)
        promise = lane.run(async (signal) => await upstream(signal, ms, false), { priority })
      } else if (roll < 0.5) {
        const controller = new AbortController()
        const ignore = random() < 0.3
        promise = lane.run(async (signal) => await upstream(signal, 30, ignore), { signal: controller.signal, timeout: random() < 0.5 ? 0 : 50, priority })
        const after = Math.floor(random() * 8)
        if (after === 0) controller.abort()
        else setTimeout(() => { controller.abort() }, after)
      } else if (roll < 0.65) {
        promise = lane.run(async (signal) => await upstream(signal, 20, random() < 0.3), { timeout: 1 + Math.floor(random() * 10), priority })
      } else if (roll < 0.72) {
        promise = lane.run(() => { throw null }, { priority }) // eslint-disable-line no-throw-literal
      } else if (roll < 0.8) {
        promise = lane.run(async () => { throw new Error('upstream said no') }, { priority })
      } else {
        promise = lane.run(async () => op, { priority })
      }
      check('after run')
      unsettled++
      promise.then(() => { settleOnce(settled, twice, op) }, () => { settleOnce(settled, twice, op) })
      all.push(promise.then(
        () => { outcomes.set('completed', (outcomes.get('completed') ?? 0) + 1) },
        (error: Error & { code?: string }) => { outcomes.set(error.code ?? 'uncoded', (outcomes.get(error.code ?? 'uncoded') ?? 0) + 1) }
      ).finally(() => { unsettled--; check('on settle') }))
      const pause = random()
      if (pause < 0.4) continue
      if (pause < 0.6) await Promise.race([all[all.length - 1], new Promise((resolve) => setTimeout(resolve, 50))])
      else if (pause < 0.8) await new Promise((resolve) => setImmediate(resolve))
      else await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 6)))
    }
    let watchdog: NodeJS.Timeout | undefined
    const stuck = new Promise<string>((resolve) => {
      watchdog = setTimeout(() => { resolve(`stuck after 20 s: ${unsettled} unsettled, ${JSON.stringify(lane.snapshot())}, ${JSON.stringify(lane.stats())}`) }, 20_000)
    })
    const outcome = await Promise.race([Promise.all([...all, closing]).then(() => 'settled'), stuck])
    clearTimeout(watchdog)
    if (outcome !== 'settled') {
      t.fail(outcome)
      return
    }
    t.equal(unsettled, 0, 'every promise settled')
    t.equal(settled.size, OPS, 'every call settled')
    t.same(twice, [], 'none settled twice')
    t.equal(outcomes.get('uncoded'), undefined, 'every failure carries a code')
    const snapshot = lane.snapshot()
    t.equal(snapshot.queued, 0, 'nothing queued')
    t.equal(snapshot.running, 0, 'nothing running')
    const stats = lane.stats()
    t.equal(stats.submitted, OPS, 'every run() counted')
    t.equal(stats.submitted, stats.completed + stats.rejected + stats.displaced + stats.shed + stats.aborted + stats.timedOut + stats.errored + stats.crashed, 'submitted = completed + the failures by cause')
    t.equal(stats.inFlight, 0)
    t.equal(stats.completed, outcomes.get('completed') ?? 0, 'completed matches what callers saw')
    t.equal(stats.rejected + stats.displaced, (outcomes.get('FST_BACKPRESSURE_QUEUE_FULL') ?? 0) + (outcomes.get('FST_BACKPRESSURE_CLOSED') ?? 0), 'rejected + displaced = queue full + closed')
    checkByPriority(t, lane.priorities(), stats)
    t.equal(stats.aborted, outcomes.get('FST_BACKPRESSURE_TASK_ABORTED') ?? 0)
    t.equal(stats.timedOut, outcomes.get('FST_BACKPRESSURE_TASK_TIMEOUT') ?? 0)
    t.equal(stats.shed, outcomes.get('FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED') ?? 0)
    t.equal(stats.errored, outcomes.get('FST_BACKPRESSURE_TASK_FAILED') ?? 0)
    t.equal(stats.crashed, 0, 'a lane has no thread to crash')
    t.ok((outcomes.get('FST_BACKPRESSURE_CLOSED') ?? 0) > 0, 'some runs met the close')
    t.ok(transitions.every((to, index) => to === (index % 2 === 0 ? 'busy' : 'free')), 'transitions alternate')
    t.same(disagreements, [], `the tracker never disagreed (${checks} checks)`)
    t.comment(`lane seed ${seed}: ${JSON.stringify(Object.fromEntries(outcomes))}, ${stats.displaced} displaced, ${checks} checks`)
  })
}
