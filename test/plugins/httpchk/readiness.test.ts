// One readiness state: every input moves the probe and the agent together, through one table.
import { once } from 'node:events'
import underPressure from '@fastify/under-pressure'
import t from 'tap'
import backpressure from '../../../index.js'
import { agentReply } from '../../../lib/haproxy/agent-reply.js'
import type { Lane } from '../../../lib/lane/lane.js'
import { createProbeResponder } from '../../../lib/httpchk/answer.js'
import { Readiness, STATE_TABLE } from '../../../lib/httpchk/readiness.js'
import { startApp, THREAD_DEFAULTS, WORKER, withPlugin } from '../../helpers/app.js'
import { agentCheck, haproxyProbe, rawHttp } from '../../helpers/raw-client.js'
import { deferred } from '../../helpers/deferred.js'

// The umbrella plugin registers the pool itself: startApp registers none (`pool: false`).
const POOL = { filename: WORKER, ...THREAD_DEFAULTS, minThreads: 1, maxThreads: 1 }

t.test('every cause of every state moves the probe and the agent together, as the state table says', async (t) => {
  let dbError: Error | undefined
  let pressure = false
  let checkRan: () => void = () => {}
  const held = deferred<void>()
  const { app, port, logs } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(underPressure, { healthCheck: async () => !pressure, healthCheckInterval: 20, exposeStatusRoute: false })
      await app.register(backpressure, {
        pool: POOL,
        lanes: { upstream: { concurrency: 1 } },
        httpchk: {
          agent: { port: 0 },
          liveness: '/livez',
          underPressure: true,
          checkInterval: 20,
          checkTimeout: 20,
          checks: {
            async db () {
              checkRan()
              if (dbError !== undefined) throw dbError
            }
          },
          drain: { grace: 100 }
        },
        metrics: false
      })
      t.equal(app.backpressure.probeState(), 'starting', 'starting until ready')
      t.equal(app.backpressure.probeReason(), 'starting')
    }
  })
  const agentPort = app.backpressure.agentPort as number

  /** Reads the probe, the agent and the liveness check at once, and checks them against the table. */
  async function read (): Promise<{ state: string, probe: string, agent: string, live: number }> {
    const [probe, agent, live] = await Promise.all([haproxyProbe(port), agentCheck(agentPort), rawHttp(port, 'GET /livez HTTP/1.0\r\n\r\n')])
    const state = app.backpressure.probeState()
    const row = STATE_TABLE[state]
    t.equal(probe.status === 200, row.probeOk, `${state}: the probe answers as the table says`)
    t.ok(agent.startsWith(row.agent === 'down' ? 'down ' : `up ${row.agent} `), `${state}: the agent says ${row.agent}`)
    t.equal(agent.includes('#'), state !== 'free', `${state}: the agent names a reason unless free`)
    return { state, probe: `${probe.status} ${probe.body.trim()}`, agent: agent.trim(), live: live.status }
  }
  /** Resolves after the next full round of checks. */
  const nextCheck = async (): Promise<void> => {
    await new Promise<void>((resolve) => { checkRan = resolve })
    await new Promise<void>((resolve) => { checkRan = resolve })
  }
  // One thread and one lane slot, each with a queue as long as itself: maxconn = (1 + 1) × 2.
  const FREE = { state: 'free', probe: '200 free', agent: 'up ready 100% maxconn:4', live: 200 }
  t.same(await read(), FREE)

  app.backpressure.setNotReady('cache warming')
  t.same(await read(), { state: 'not-ready', probe: '503 not-ready', agent: 'up drain 100% maxconn:4 #not-ready: cache warming', live: 200 }, 'the app\'s own reason')
  t.equal(app.backpressure.probeReason(), 'not-ready: cache warming')
  app.backpressure.setReady()
  t.same(await read(), FREE)

  dbError = new Error('connect ECONNREFUSED db.internal:5432')
  await nextCheck()
  t.same(await read(), { state: 'not-ready', probe: '503 not-ready', agent: 'up drain 100% maxconn:4 #not-ready: db', live: 200 }, 'a failing check, by its name only')
  const [logged] = logs.messages('dependency check failed: not ready')
  t.match(logged, { check: 'db', err: { message: 'connect ECONNREFUSED db.internal:5432' } }, 'its error goes to the log')
  dbError = undefined
  await nextCheck()
  t.same(await read(), FREE, 'the check recovered')

  pressure = true
  await t.resolves(waitFor(() => app.backpressure.probeState() === 'busy'), 'under-pressure reports pressure')
  t.same(await read(), { state: 'busy', probe: '503 busy', agent: 'up ready 1% maxconn:4 #busy: under-pressure', live: 200 }, 'under pressure: no up ready 100% while the probe says busy')
  pressure = false
  await t.resolves(waitFor(() => app.backpressure.probeState() === 'free'))

  const poolBusy = once(app.pool, 'busy')
  const tasks = [1, 2].map(() => app.pool.run({ op: 'block', ms: 300 }))
  await poolBusy
  t.same(await read(), { state: 'busy', probe: '503 busy', agent: 'up ready 1% maxconn:4 #busy: pool', live: 200 }, 'a full pool (1 running, 1 queued): weight at the floor; liveness still 200')
  await Promise.all(tasks)

  const lane = app.lanes.upstream as Lane
  const laneBusy = once(lane, 'busy')
  const calls = [1, 2].map(() => lane.run(async () => { await held.promise }))
  await laneBusy
  t.same(await read(), { state: 'busy', probe: '503 busy', agent: 'up ready 1% maxconn:4 #busy: upstream', live: 200 }, 'a full lane, by its name')
  held.resolve()
  await Promise.all(calls)
  t.same(await read(), FREE)

  const drained = app.backpressure.drain()
  t.same(await read(), { state: 'draining', probe: '503 draining', agent: 'up drain 100% maxconn:4 #draining', live: 200 })
  await drained
})

t.test('starting: the probe and the agent say so from the same table', async (t) => {
  // Nothing listens before the app is ready, so `starting` is read where the doors read it.
  const readiness = new Readiness({ executors: () => [] })
  const responder = createProbeResponder({ unavailableStatusCode: 503, retryAfter: 0, verbose: false, details: () => ({}) })
  let written = ''
  responder.probe({ writeHead: (status) => { written = `${status}` }, end: (body) => { written += ` ${String(body)}` } }, readiness.state(), false)
  t.equal(written, '503 starting\n')
  t.equal(agentReply(readiness.state(), readiness.reason(), readiness.load(), { maxQueue: undefined, minWeight: 1 }), 'up drain 100% #starting')
})

t.test('a check that hangs fails at its timeout, its signal aborted', async (t) => {
  const signals: AbortSignal[] = []
  const { app, logs } = await startApp(t, {
    ...withPlugin(backpressure, {
      pool: POOL,
      httpchk: {
        checkInterval: 1000,
        checkTimeout: 30,
        checks: { upstream: async (signal) => { signals.push(signal); await once(signal, 'abort') } }
      },
      metrics: false
    }),
    listen: false
  })
  t.equal(app.backpressure.probeState(), 'not-ready', 'the first round runs before the app is ready')
  t.equal(app.backpressure.probeReason(), 'not-ready: upstream')
  t.match(logs.messages('dependency check failed: not ready')[0], { check: 'upstream', err: { message: 'check "upstream" timed out after 30 ms' } })
  t.equal(signals[0]?.aborted, true)
})

t.test('a check that throws a non-error, and checks stop when the app closes', async (t) => {
  let runs = 0
  const { app, logs } = await startApp(t, {
    ...withPlugin(backpressure, {
      pool: POOL,
      httpchk: { checkInterval: 10, checks: { odd: () => { runs++; throw 'nope' } } }, // eslint-disable-line no-throw-literal
      metrics: false
    }),
    listen: false
  })
  t.equal(app.backpressure.probeReason(), 'not-ready: odd')
  t.match(logs.messages('dependency check failed: not ready')[0], { check: 'odd', err: { message: 'check "odd" failed: nope' } })
  await app.close()
  const after = runs
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(runs, after, 'no round after close')
})

t.test('liveness answers 503 only when an executor is down; the probe and the agent say down, naming it', async (t) => {
  const { app, port } = await startApp(t, withPlugin(backpressure, { pool: POOL, httpchk: { liveness: '/livez', agent: { port: 0 } }, metrics: false }))
  const closing = app.pool.close()
  t.equal(app.backpressure.probeState(), 'down')
  t.same(await haproxyProbe(port).then((probe) => `${probe.status} ${probe.body}`), '503 down\n')
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'down ready maxconn:2 #down: pool\n')
  const live = await rawHttp(port, 'GET /livez HTTP/1.0\r\n\r\n')
  t.equal(live.status, 503)
  t.equal(live.body, 'down\n')
  t.equal((await rawHttp(port, 'HEAD /livez HTTP/1.0\r\n\r\n')).body, '', 'HEAD has no body')
  await closing
})

/** Resolves once `condition()` holds, checking on each turn of the event loop (under-pressure samples on a timer of its own). */
async function waitFor (condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

t.test('a `pool` decorated by another plugin (a database pool) is not read as an executor', async (t) => {
  const { app } = await startApp(t, {
    pool: false,
    listen: false,
    setup: async (app) => {
      app.decorate('pool', { query: async () => [] } as never)
      await app.register(backpressure, { httpchk: { agent: { port: 0 } }, metrics: false })
    }
  })
  t.equal(app.backpressure.probeState(), 'free')
  t.equal(await agentCheck(app.backpressure.agentPort as number), 'up ready 100%\n', 'no capacity counted')
})
