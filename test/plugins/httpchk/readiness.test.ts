// One readiness state: every input moves the probe and the agent together, through one table.
import { once } from 'node:events'
import underPressure from '@fastify/under-pressure'
import t from 'tap'
import backpressure from '../../../index.js'
import { startApp, THREAD_DEFAULTS, WORKER, withPlugin } from '../../helpers/app.js'
import { agentCheck, haproxyProbe, rawHttp } from '../../helpers/raw-client.js'

// The umbrella plugin registers the pool itself: startApp registers none (`pool: false`).
const POOL = { filename: WORKER, ...THREAD_DEFAULTS, minThreads: 1, maxThreads: 1 }

t.test('setNotReady/setReady, a failing then recovering check, under-pressure, busy and drain move the probe and the agent together', async (t) => {
  let dbUp = true
  let pressure = false
  let checkRan: () => void = () => {}
  const { app, port } = await startApp(t, {
    pool: false,
    setup: async (app) => {
      await app.register(underPressure, { healthCheck: async () => !pressure, healthCheckInterval: 20, exposeStatusRoute: false })
      await app.register(backpressure, {
        pool: POOL,
        httpchk: {
          agent: { port: 0 },
          liveness: '/livez',
          underPressure: true,
          checkInterval: 20,
          checkTimeout: 20,
          checks: {
            async db () {
              checkRan()
              if (!dbUp) throw new Error('connection refused')
            }
          },
          drain: { grace: 100 }
        },
        metrics: false
      })
      t.equal(app.backpressure.probeState(), 'starting', 'starting until ready')
    }
  })
  const agentPort = app.backpressure.agentPort as number

  /** Reads the probe, the agent and the liveness check at once. */
  async function read (): Promise<{ state: string, probe: string, agent: string, live: number }> {
    const [probe, agent, live] = await Promise.all([haproxyProbe(port), agentCheck(agentPort), rawHttp(port, 'GET /livez HTTP/1.0\r\n\r\n')])
    return { state: app.backpressure.probeState(), probe: `${probe.status} ${probe.body.trim()}`, agent: agent.trim(), live: live.status }
  }
  /** Resolves after the next full round of checks. */
  const nextCheck = async (): Promise<void> => {
    await new Promise<void>((resolve) => { checkRan = resolve })
    await new Promise<void>((resolve) => { checkRan = resolve })
  }

  t.same(await read(), { state: 'free', probe: '200 free', agent: 'up ready 100% maxconn:2', live: 200 })

  app.backpressure.setNotReady('cache warming')
  t.same(await read(), { state: 'not-ready', probe: '503 not-ready', agent: 'up drain 100% maxconn:2 #cache warming', live: 200 })
  t.equal(app.backpressure.probeReason(), 'cache warming')
  app.backpressure.setReady()
  t.same(await read(), { state: 'free', probe: '200 free', agent: 'up ready 100% maxconn:2', live: 200 })

  dbUp = false
  await nextCheck()
  t.same(await read(), { state: 'not-ready', probe: '503 not-ready', agent: 'up drain 100% maxconn:2 #db: connection refused', live: 200 }, 'a failing check')
  dbUp = true
  await nextCheck()
  t.same(await read(), { state: 'free', probe: '200 free', agent: 'up ready 100% maxconn:2', live: 200 }, 'the check recovered')

  pressure = true
  await t.resolves(waitFor(() => app.backpressure.probeState() === 'busy'), 'under-pressure reports pressure')
  t.same(await read(), { state: 'busy', probe: '503 busy', agent: 'up ready 100% maxconn:2', live: 200 }, 'under pressure: the probe and the agent agree on the state')
  pressure = false
  await t.resolves(waitFor(() => app.backpressure.probeState() === 'free'))

  const busy = once(app.pool, 'busy')
  const tasks = [1, 2].map(() => app.pool.run({ op: 'block', ms: 300 }))
  await busy
  t.same(await read(), { state: 'busy', probe: '503 busy', agent: 'up ready 1% maxconn:2', live: 200 }, 'pool busy (1 running, 1 queued, 2 slots): weight at the floor; liveness still 200')
  await Promise.all(tasks)

  const drained = app.backpressure.drain()
  t.same(await read(), { state: 'draining', probe: '503 draining', agent: 'up drain 100% maxconn:2', live: 200 })
  await drained
})

t.test('a check that hangs fails at its timeout, its signal aborted', async (t) => {
  const signals: AbortSignal[] = []
  const { app } = await startApp(t, {
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
  t.equal(app.backpressure.probeReason(), 'upstream: check "upstream" timed out after 30 ms')
  t.equal(signals[0]?.aborted, true)
})

t.test('a check that throws a non-error, and checks stop when the app closes', async (t) => {
  let runs = 0
  const { app } = await startApp(t, {
    ...withPlugin(backpressure, {
      pool: POOL,
      httpchk: { checkInterval: 10, checks: { odd: () => { runs++; throw 'nope' } } }, // eslint-disable-line no-throw-literal
      metrics: false
    }),
    listen: false
  })
  t.equal(app.backpressure.probeReason(), 'odd: check "odd" failed: nope')
  await app.close()
  const after = runs
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(runs, after, 'no round after close')
})

t.test('liveness answers 503 only when an executor is down', async (t) => {
  const { app, port } = await startApp(t, withPlugin(backpressure, { pool: POOL, httpchk: { liveness: '/livez' }, metrics: false }))
  const closing = app.pool.close()
  t.equal(app.backpressure.probeState(), 'down')
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

t.test("a `pool` decorated by another plugin (a database pool) is not read as an executor", async (t) => {
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
