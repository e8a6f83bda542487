// Queueing moves to HAProxy. With the agent recipe each instance tells HAProxy `maxconn:N`
// (capacity + allowed queue): a burst bigger than every pool's capacity together waits in HAProxy's
// backend queue (qcur/qmax in `show stat`), no instance ever holds more than N requests, and every
// client is served within `timeout queue`.
//
// Every instance busy at once: with httpchk only, every server goes DOWN and HAProxy answers 503 at
// once; with the agent (weight floor 1%, maxconn), servers stay UP and requests wait instead.
import t from 'tap'
import { FAST_CHECKS, haproxyBinaryOrSkip, metricValue, runLoad, startCluster } from '../helpers/haproxy.js'

const TIMINGS = { ...FAST_CHECKS, servedBy: true, timeoutQueue: 10000 }
// One thread; the agent's default queue equals the capacity, so it sends maxconn:2.
// These tests are about the pool: the example app's /upstream lane (unused here) is kept out of the
// probe and the agent, so maxconn and the weight describe the pool alone.
const APP_ENV = { POOL_MAX_THREADS: '1', POOL_MAX_QUEUE: '8', TASK_TIMEOUT_MS: '10000', UPSTREAM_AFFECTS_PROBE: '0' }
const MAXCONN = 2

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('agent maxconn: a burst larger than every pool together waits in HAProxy, no client error', async (t) => {
    const cluster = await startCluster(t, binary, { recipe: 'agent', ...TIMINGS, env: APP_ENV })
    const { haproxy } = cluster
    // The agent's maxconn replaces the config's static 32 (slim = session limit in show stat).
    await haproxy.waitFor((rows) => rows.every((row) => row.slim === String(MAXCONN)), { timeout: 5000 })

    const BURST = 16
    const BLOCK_MS = 250
    let sampling = true
    let maxBackendQueue = 0
    let maxServerSessions = 0
    let sawBothLoaded = false
    const sampler = (async () => {
      // eslint-disable-next-line no-unmodified-loop-condition -- `sampling` changes in a callback while the loop waits
      while (sampling) {
        const stat = await haproxy.stat()
        const backend = stat.find((row) => row.pxname === 'be_app' && row.svname === 'BACKEND')
        const servers = stat.filter((row) => row.pxname === 'be_app' && row.svname !== 'BACKEND' && row.svname !== 'FRONTEND')
        maxBackendQueue = Math.max(maxBackendQueue, Number(backend?.qcur ?? 0))
        for (const row of servers) maxServerSessions = Math.max(maxServerSessions, Number(row.scur))
        if (servers.every((row) => Number(row.scur) === MAXCONN)) sawBothLoaded = true
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    const load = await runLoad({ url: `${haproxy.url}/block?ms=${BLOCK_MS}`, concurrency: BURST, maxRequests: BURST, maxMs: 10000 })
    sampling = false
    await sampler

    t.same(load.failures, [], `no client error (${BURST} requests in ${Math.round(load.elapsedMs)} ms)`)
    t.equal(load.ok, BURST)
    t.ok(maxBackendQueue > 0, `requests waited in HAProxy's backend queue (qcur up to ${maxBackendQueue})`)
    const backend = await haproxy.backend()
    t.ok(Number(backend.qmax) >= BURST - 2 * MAXCONN - 2, `HAProxy's own record: backend qmax ${backend.qmax}`)
    const servers = await haproxy.servers()
    for (const row of servers) {
      t.ok(Number(row.smax) <= MAXCONN, `${row.svname}: at most ${MAXCONN} requests in flight in the app (smax ${row.smax})`)
    }
    t.ok(maxServerSessions <= MAXCONN)
    t.ok(sawBothLoaded, 'every instance was full at the same moment')
    t.ok((load.byServer.app1 ?? 0) > 0 && (load.byServer.app2 ?? 0) > 0, `both served: ${JSON.stringify(load.byServer)}`)
    // The app's own queue stayed bounded: nothing refused by the pool's maxQueue.
    for (const { name, app } of cluster.instances) {
      const metrics = await (await fetch(`${app.url}/metrics`)).text()
      t.equal(metricValue(metrics, 'backpressure_pool_tasks_failed_total'), 0, `${name}: no task refused or failed in the app`)
      t.equal(metricValue(metrics, 'backpressure_pool_tasks_completed_total'), load.byServer[name], `${name}: every task it ran was a request HAProxy sent it`)
    }
    t.comment(`figures queueing: qcur max ${maxBackendQueue}, qmax ${backend.qmax}, elapsed ${Math.round(load.elapsedMs)} ms`)
  })

  // Saturates every instance directly (1 running + 2 queued each), the way load from elsewhere would.
  function saturateAll (urls: string[], blockMs: number): Promise<number[]> {
    return Promise.all(urls.flatMap((url) => Array.from({ length: 3 }, async () => (await fetch(`${url}/block?ms=${blockMs}`)).status)))
  }

  t.test('every instance busy, httpchk only: every server DOWN, HAProxy answers 503 at once', async (t) => {
    const cluster = await startCluster(t, binary, { recipe: 'httpchk', ...TIMINGS, env: { ...APP_ENV, AGENT_PORT: 'off' } })
    const { haproxy } = cluster
    const saturation = saturateAll(cluster.instances.map(({ app }) => app.url), 2500)
    await haproxy.waitFor((rows) => rows.every((row) => row.status === 'DOWN'), { timeout: 5000 })
    const started = performance.now()
    const response = await fetch(`${haproxy.url}/block?ms=1`)
    const elapsed = performance.now() - started
    t.equal(response.status, 503, 'no server: 503')
    // HAProxy's `timeout queue` is 10 s: a queued request would take that long.
    t.ok(elapsed < 5000, `answered at once (${Math.round(elapsed)} ms), not queued`)
    t.same(await saturation, [200, 200, 200, 200, 200, 200])
  })

  t.test('every instance busy, agent: servers stay UP at the minimum weight, requests wait and succeed', async (t) => {
    const cluster = await startCluster(t, binary, { recipe: 'agent', ...TIMINGS, env: APP_ENV })
    const { haproxy } = cluster
    const saturation = saturateAll(cluster.instances.map(({ app }) => app.url), 1000)
    await haproxy.waitFor((rows) => rows.every((row) => row.weight === '1'), { timeout: 5000 })
    const rows = await haproxy.servers()
    t.same(rows.map((row) => row.status), ['UP', 'UP'], 'still UP')
    const load = await runLoad({ url: `${haproxy.url}/block?ms=1`, concurrency: 4, maxRequests: 4, maxMs: 10000 })
    t.same(load.failures, [], 'every request was served')
    t.equal(load.ok, 4)
    t.ok(load.elapsedMs > 300, `they waited for a free thread (${Math.round(load.elapsedMs)} ms)`)
    t.same(await saturation, [200, 200, 200, 200, 200, 200])
  })
}
