// Saturation with a real HAProxy, one test per recipe: one instance's pool is saturated (directly,
// not through HAProxy) → HAProxy takes it out of rotation within about inter × fall (DOWN with
// httpchk, NOLB with disable-on-404, a low agent weight with agent-check) → new requests through
// HAProxy go to the other instance → once the blocking tasks finish it is back in rotation.
//
// Timings: inter 200 ms, fastinter/downinter 100 ms, fall 2, rise 2 (agent-inter 200 ms). What is
// asserted is that HAProxy does take the instance out and back (each wait has a 10 s timeout); the
// measured times are printed, not bounded, since a loaded 2-core machine can slow anything. The
// figures against inter × fall are in docs/haproxy.md and `npm run demo`.
import t, { type Test } from 'tap'
import { FAST_CHECKS, haproxyBinaryOrSkip, runLoad, startCluster, type Cluster } from '../helpers/haproxy.js'

const { inter: INTER, fall: FALL, rise: RISE } = FAST_CHECKS
const BLOCK_MS = 2000
const TIMINGS = { ...FAST_CHECKS, servedBy: true }
// One thread and a small queue per instance: three blocking requests make it busy.
// These tests are about the pool: the example app's /upstream lane (unused here) is kept out of the
// probe and the agent, so maxconn and the weight describe the pool alone.
const APP_ENV = { POOL_MAX_THREADS: '1', POOL_MAX_QUEUE: '8', TASK_TIMEOUT_MS: '10000', UPSTREAM_AFFECTS_PROBE: '0' }

/** Saturates `url`'s pool with blocking tasks (1 running, 2 queued) and resolves once its own probe
 * answers `busyStatus`, i.e. the moment the app itself says busy. Returns the pending requests. */
async function saturate (url: string, probe: { method: string, path: string, busyStatus: number }): Promise<{ busyAt: number, freeAt: () => Promise<number>, done: Promise<string[]> }> {
  const done = Promise.all(Array.from({ length: 3 }, async () => {
    const response = await fetch(`${url}/block?ms=${BLOCK_MS}`)
    return `${response.status} ${await response.text()}`
  }))
  done.catch(() => {})
  const busyAt = await probeAnswers(url, probe, probe.busyStatus, 3000)
  // Free again once the queue is empty (the last task has a thread), not when it has finished.
  return { busyAt, freeAt: async () => await probeAnswers(url, probe, 200), done }
}

/** Sequential requests through HAProxy while app1 is out of rotation (or nearly, at weight 1 of
 * 100: roundrobin may give it one request in 101). */
async function routedAround (t: Test, cluster: Cluster, allowedOnApp1 = 0): Promise<void> {
  // Bounded in time too: a request the agent's weight 1 still lets through to app1 waits there behind
  // the saturating tasks, so fewer than 10 may be sent; every one sent must be answered.
  const load = await runLoad({ url: `${cluster.haproxy.url}/block?ms=1`, concurrency: 1, maxRequests: 10, maxMs: 5000 })
  t.same(load.failures, [], 'no client error')
  t.ok((load.byServer.app1 ?? 0) <= allowedOnApp1, `new requests went to the other instance: ${JSON.stringify(load.byServer)}`)
  t.equal((load.byServer.app1 ?? 0) + (load.byServer.app2 ?? 0), load.sent, `every request sent was answered by app1 or app2 (${load.sent})`)
}

/** Polls the app's own probe until it answers `status`: the moment the app itself flips. */
async function probeAnswers (url: string, probe: { method: string, path: string }, status: number, timeoutMs = 10000): Promise<number> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const response = await fetch(`${url}${probe.path}`, { method: probe.method })
    if (response.status === status) return performance.now()
    if (performance.now() > deadline) throw new Error(`probe never answered ${status} (last ${response.status})`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('httpchk: busy → DOWN → traffic to the other instance → UP when free', async (t) => {
    const cluster = await startCluster(t, binary, { recipe: 'httpchk', ...TIMINGS, env: { ...APP_ENV, AGENT_PORT: 'off' } })
    const { haproxy } = cluster
    const app1 = cluster.instances[0]!.app
    const { busyAt, freeAt: waitFree, done } = await saturate(app1.url, { method: 'OPTIONS', path: '/', busyStatus: 503 })
    const down = await haproxy.waitForServer('app1', (status) => status === 'DOWN', { timeout: 10000 })
    const outMs = performance.now() - busyAt
    t.comment(`busy → DOWN in ${Math.round(outMs)} ms (inter × fall = ${INTER * FALL} ms)`)
    t.equal(down.row.check_status, 'L7STS', 'taken out by the probe\'s status code')
    await routedAround(t, cluster)
    const freeAt = await waitFree()
    await haproxy.waitForServer('app1', (status) => status === 'UP', { timeout: 10000 })
    const backMs = performance.now() - freeAt
    t.comment(`free → UP in ${Math.round(backMs)} ms (inter × rise = ${INTER * RISE} ms)`)
    t.same((await done).map((answer) => answer.slice(0, 3)), ['200', '200', '200'], 'the saturating requests were all served')
    t.comment(`figures httpchk: out=${Math.round(outMs)} back=${Math.round(backMs)}`)
  })

  // Apache's hcmethod=OPTIONS and this classic HAProxy line send the asterisk form, OPTIONS *; the
  // probe answers it as OPTIONS / (HTTP/1.1: with Host, which HAProxy sends when told to).
  for (const checkRequest of ['OPTIONS *', 'OPTIONS * HTTP/1.1']) {
    t.test(`option httpchk ${checkRequest}: UP when free, DOWN when busy, UP again`, async (t) => {
      const cluster = await startCluster(t, binary, { recipe: 'httpchk', checkRequest, ...TIMINGS, env: { ...APP_ENV, AGENT_PORT: 'off' } })
      const { haproxy } = cluster
      t.same((await haproxy.servers()).map((row) => row.status), ['UP', 'UP'], 'both UP on OPTIONS * answers')
      const app1 = cluster.instances[0]!.app
      const { busyAt, freeAt: waitFree, done } = await saturate(app1.url, { method: 'OPTIONS', path: '/', busyStatus: 503 })
      const down = await haproxy.waitForServer('app1', (status) => status === 'DOWN', { timeout: 10000 })
      const outMs = performance.now() - busyAt
      t.equal(down.row.check_status, 'L7STS', 'taken out by the probe\'s status code')
      await routedAround(t, cluster)
      const freeAt = await waitFree()
      await haproxy.waitForServer('app1', (status) => status === 'UP', { timeout: 10000 })
      const backMs = performance.now() - freeAt
      t.same((await done).map((answer) => answer.slice(0, 3)), ['200', '200', '200'], 'the saturating requests were all served')
      t.comment(`figures httpchk ${checkRequest}: out=${Math.round(outMs)} back=${Math.round(backMs)}`)
    })
  }

  t.test('disable-on-404: busy → NOLB at the first 404 → traffic to the other instance → UP when free', async (t) => {
    const env = { ...APP_ENV, AGENT_PORT: 'off', HTTPCHK_METHOD: 'GET', HTTPCHK_URL: '/healthz', HTTPCHK_UNAVAILABLE_STATUS: '404' }
    const cluster = await startCluster(t, binary, { recipe: 'disable-on-404', probePath: '/healthz', ...TIMINGS, env })
    const { haproxy } = cluster
    const app1 = cluster.instances[0]!.app
    const { busyAt, freeAt: waitFree, done } = await saturate(app1.url, { method: 'GET', path: '/healthz', busyStatus: 404 })
    await haproxy.waitForServer('app1', (status) => status === 'NOLB', { timeout: 10000 })
    const outMs = performance.now() - busyAt
    // NOLB happens on the first 404: one check interval, not inter × fall.
    t.comment(`busy → NOLB in ${Math.round(outMs)} ms (inter = ${INTER} ms)`)
    await routedAround(t, cluster)
    const freeAt = await waitFree()
    await haproxy.waitForServer('app1', (status) => status === 'UP', { timeout: 10000 })
    const backMs = performance.now() - freeAt
    t.comment(`free → UP in ${Math.round(backMs)} ms (the next 2xx restores it)`)
    t.same((await done).map((answer) => answer.slice(0, 3)), ['200', '200', '200'], 'the saturating requests were all served')
    t.comment(`figures disable-on-404: out=${Math.round(outMs)} back=${Math.round(backMs)}`)
  })

  t.test('agent: busy → weight drops to the minimum → traffic to the other instance → weight 100 when free', async (t) => {
    const cluster = await startCluster(t, binary, { recipe: 'agent', ...TIMINGS, env: APP_ENV })
    const { haproxy } = cluster
    const app1 = cluster.instances[0]!.app
    const { busyAt, freeAt: waitFree, done } = await saturate(app1.url, { method: 'OPTIONS', path: '/', busyStatus: 503 })
    const low = await haproxy.waitForServer('app1', (_status, row) => Number(row.weight) <= 10, { timeout: 10000 })
    const outMs = performance.now() - busyAt
    t.comment(`busy → weight ${low.row.weight} in ${Math.round(outMs)} ms (agent-inter = ${INTER} ms)`)
    t.equal(low.row.status, 'UP', 'still UP: the probe\'s 503 is expected in this recipe, the agent carries the load')
    await routedAround(t, cluster, 1)
    const freeAt = await waitFree()
    // Free (queue empty) still leaves the last task running: weight = free share of capacity + queue.
    const back = await haproxy.waitForServer('app1', (_status, row) => Number(row.weight) >= 50, { timeout: 10000 })
    const backMs = performance.now() - freeAt
    t.comment(`free → weight ${back.row.weight} in ${Math.round(backMs)} ms`)
    t.same((await done).map((answer) => answer.slice(0, 3)), ['200', '200', '200'], 'the saturating requests were all served')
    await t.resolves(haproxy.waitForServer('app1', (_status, row) => row.weight === '100', { timeout: 10000 }), 'weight 100 once idle')
    t.comment(`figures agent: out=${Math.round(outMs)} back=${Math.round(backMs)}`)
  })
}
