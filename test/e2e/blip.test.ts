// The blip, replayed. app1's worker tasks call their upstream through the fault proxy; app2 calls it
// directly. Under steady load the proxy starts holding every chunk (an upstream that suddenly
// answers slowly): app1's tasks run into their upstream timeout, its queue builds, the pool goes
// busy, HAProxy takes it out (httpchk recipe) and routes to app2. When the blip ends, app1 comes back
// and serves again. app1's queue stays bounded throughout.
import { once } from 'node:events'
import { createServer } from 'node:http'
import t from 'tap'
import { startFaultProxy } from '../../tools/fault-proxy.mjs'
import { watchMax } from '../../tools/prometheus-text.mjs'
import { FAST_CHECKS, haproxyBinaryOrSkip, runLoad, startCluster } from '../helpers/haproxy.js'

const UPSTREAM_TIMEOUT_MS = 400
const POOL_MAX_QUEUE = 8

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('a slow upstream makes app1 busy, HAProxy routes around it, it recovers, its queue stays bounded', async (t) => {
    // The upstream: answers in 5 ms.
    const upstream = createServer((_req, res) => { setTimeout(() => { res.end('{"ok":true}') }, 5) })
    upstream.listen(0, '127.0.0.1')
    await once(upstream, 'listening')
    t.teardown(() => { upstream.closeAllConnections(); upstream.close() })
    const upstreamPort = (upstream.address() as { port: number }).port
    const proxy = await startFaultProxy(t, { port: upstreamPort })

    const cluster = await startCluster(t, binary, {
      recipe: 'httpchk',
      ...FAST_CHECKS,
      servedBy: true,
      // Round robin keeps sending app1 its half until HAProxy takes it out: the blip is felt at once.
      balance: 'roundrobin',
      // app1: one thread, the blip's victim. app2: room for the whole load (4 threads, 3 clients), as
      // the survivors of a real cluster need; otherwise it goes busy too and, with httpchk only,
      // every server is DOWN (queueing.test.ts shows that case).
      env: (index) => ({
        POOL_MAX_THREADS: index === 0 ? '1' : '4',
        POOL_MAX_QUEUE: String(POOL_MAX_QUEUE),
        TASK_TIMEOUT_MS: '2000',
        UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
        UPSTREAM_URL: index === 0 ? proxy.url : `http://127.0.0.1:${upstreamPort}/`,
        AGENT_PORT: 'off'
      })
    })
    const { haproxy } = cluster
    const app1 = cluster.instances[0]!.app

    // app1's queue depth, sampled from its metrics for the whole run.
    const queueWatch = watchMax(`${app1.url}/metrics`, ['backpressure_lane_queue_depth'])

    const stop = new AbortController()
    const loadDone = runLoad({ url: `${haproxy.url}/upstream`, concurrency: 3, maxRequests: 20000, maxMs: 30000, signal: stop.signal })
    try {
      // Steady state first: app1 serves its share.
      await haproxy.waitForServer('app1', (_status, row) => Number(row.stot) >= 10, { timeout: 10000 })

      proxy.setDelay(1500)
      const blipAt = performance.now()
      // The bounds below are the waits' timeouts, far above the expected figures (inter × fall plus
      // the upstream timeout): a loaded machine may be slow, but a server HAProxy never takes out
      // fails. The figures themselves are printed, and measured by `npm run demo`.
      await haproxy.waitForServer('app1', (status) => status === 'DOWN', { timeout: 10000 })
      const outMs = performance.now() - blipAt
      t.comment(`blip → app1 DOWN in ${Math.round(outMs)} ms`)
      // app2 carries the load. (app1 may come back UP meanwhile: out of rotation its queue drains,
      // the probe says free, and HAProxy tries it again; it goes busy again at once. Each state is
      // HAProxy's truth at that moment, so no assertion is made on it here.)
      const servers = await haproxy.servers()
      const app2AtDown = Number(servers.find((row) => row.svname === 'app2')?.stot)
      const app1AtDown = Number(servers.find((row) => row.svname === 'app1')?.stot)
      await haproxy.waitForServer('app2', (_status, row) => Number(row.stot) >= app2AtDown + 20, { timeout: 10000 })
      const app1During = Number((await haproxy.servers()).find((row) => row.svname === 'app1')?.stot) - app1AtDown
      t.ok(app1During < 20, `app2 served 20 more requests while app1 served ${app1During} during the blip`)

      proxy.setDelay(0)
      const endAt = performance.now()
      const up = await haproxy.waitForServer('app1', (status) => status === 'UP', { timeout: 15000 })
      const backMs = performance.now() - endAt
      t.comment(`blip over → app1 UP in ${Math.round(backMs)} ms`)
      await t.resolves(haproxy.waitForServer('app1', (_status, row) => Number(row.stot) >= Number(up.row.stot) + 10, { timeout: 10000 }), 'app1 serves again after the blip')
      t.comment(`figures blip: out=${Math.round(outMs)} back=${Math.round(backMs)}`)
    } finally {
      stop.abort()
    }
    const load = await loadDone
    const maxQueue = (await queueWatch.stop()).backpressure_lane_queue_depth as number
    t.comment(`figures blip: maxQueue=${maxQueue}`)

    t.ok(maxQueue <= POOL_MAX_QUEUE, `app1's queue stayed bounded (max ${maxQueue}, limit ${POOL_MAX_QUEUE})`)
    t.ok(proxy.delayedChunks > 0, 'the fault proxy did delay app1\'s upstream calls')
    // Requests app1 had already accepted when the blip hit end in its upstream timeout (504); no
    // request found HAProxy without a server (503) and nothing else failed.
    const unexpected = load.failures.filter((failure) => !failure.startsWith('status 504'))
    t.same(unexpected, [], `only upstream timeouts failed (${load.failures.length} of ${load.sent})`)
    // How many that is depends on the machine's speed (how many requests reach app1 before HAProxy
    // takes it out): a figure for the log, not a bound.
    t.comment(`figures blip: timedOut=${load.failures.length} sent=${load.sent}`)
  })
}
