// The example app as a user runs it: a child process (`node example-app/server.mjs`) configured by
// env, over real loopback sockets. Synchronisation is on the app's own event stream
// (/dashboard/events pushes a sample on every busy/free transition), never on sleeps.
import t from 'tap'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { startExampleApp, waitForOutput, watchSamples } from '../helpers/example-app.js'

t.test('serves the page, the upstream call, the probe, metrics and the dashboard', async (t) => {
  const app = await startExampleApp({ env: { UPSTREAM_DELAY_MS: '50', DRAIN_GRACE_MS: '0' } })
  t.teardown(() => app.stop())

  t.equal(app.pid, app.child.pid, 'READY line carries the PID')
  t.equal(app.url, `http://127.0.0.1:${app.port}`)
  t.type(app.agentPort, 'number', 'AGENT_PORT=0 picks a free agent port')
  await waitForOutput(app, `curl -i -X OPTIONS ${app.url}/`)
  t.match(app.output(), `${app.url}/dashboard`, 'prints where to probe it and where the dashboard is')

  const page = await fetch(`${app.url}/page`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  const html = await page.text()
  t.match(html, /<h2>Catalogue \(2000 items/, 'the catalogue was rendered')
  t.match(html, /Rendered by worker thread [1-9]\d* in/, 'rendered on a worker thread, not the main one')
  t.match(html, '<h1>Why this page is slow on purpose</h1>', 'the markdown article was rendered (marked)')
  t.match(html, '<strong>data shaping</strong>', 'inline markdown too')
  t.match(html, /<tr><td>1<\/td><td>SKU-\d{5}<\/td>/, 'the catalogue rows went through the Handlebars template')

  const upstream = await fetch(`${app.url}/upstream`)
  t.equal(upstream.status, 200)
  const body = await upstream.json() as { upstream: { from: string, delayMs: number } }
  t.equal(body.upstream.from, 'slow-upstream', 'answered by the built-in slow upstream')
  t.equal(body.upstream.delayMs, 50, 'UPSTREAM_DELAY_MS reached the upstream')

  const probe = await fetch(`${app.url}/`, { method: 'OPTIONS' })
  t.equal(probe.status, 200, 'the probe answers 200 while free')

  t.equal((await fetch(`${app.url}/block?ms=20`)).status, 200)
  t.equal((await fetch(`${app.url}/block?ms=999999`)).status, 400, '/block refuses ms over BLOCK_MAX_MS')
  t.equal((await fetch(`${app.url}/block?ms=abc`)).status, 400, '/block refuses a non-integer ms')
  t.equal((await fetch(`${app.url}/critical`)).status, 200, '/critical: the same task at priority 10')
  t.equal((await fetch(`${app.url}/prefetch?ms=5`)).status, 200, '/prefetch: at priority 0')
  t.equal((await fetch(`${app.url}/prefetch?ms=-1`)).status, 400, '/prefetch refuses a negative ms')

  const metrics = await fetch(`${app.url}/metrics`)
  t.equal(metrics.status, 200)
  t.match(await metrics.text(), /backpressure_pool_queue_depth/)

  const dashboard = await fetch(`${app.url}/dashboard`)
  t.equal(dashboard.status, 200)
  t.match(await dashboard.text(), '<script src="/dashboard/app.js">')
  const script = await fetch(`${app.url}/dashboard/app.js`)
  t.equal(script.status, 200)
  t.match(script.headers.get('content-type'), /javascript/)
})

t.test('UPSTREAM_URL is used, and a slow upstream answers 504 after UPSTREAM_TIMEOUT_MS', async (t) => {
  // An upstream that never answers: the worker's fetch timeout must fire.
  const silent: Server = createServer(() => {})
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  t.teardown(async () => {
    silent.closeAllConnections()
    silent.close()
    await once(silent, 'close')
  })
  const upstreamUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`
  let reached = 0
  silent.on('request', () => { reached++ })
  // The lane's deadline counts from the request's arrival, and the app's first fetch() also loads
  // Node's HTTP client: 1 s leaves a loaded machine time to send the request before the deadline.
  // (Waiting for the upstream's request event instead hung when a 150 ms deadline won that race.)
  const app = await startExampleApp({ env: { UPSTREAM_URL: upstreamUrl, UPSTREAM_TIMEOUT_MS: '1000', AGENT_PORT: 'off' } })
  t.teardown(() => app.stop())

  t.equal(app.agentPort, null, 'AGENT_PORT=off: no agent port')
  const response = await fetch(`${app.url}/upstream`)
  t.equal(response.status, 504)
  t.same(await response.json(), { error: 'upstream timeout', timeoutMs: 1000 })
  // The request reached the upstream a deadline's length before the 504 came back.
  t.equal(reached, 1, 'the app called UPSTREAM_URL')
})

t.test('an invalid env variable stops the app with a message naming it', async (t) => {
  await t.rejects(startExampleApp({ env: { POOL_MAX_THREADS: 'many' } }), /Invalid env POOL_MAX_THREADS="many"/)
})

t.test('saturating the pool turns the probe to 503, and it drains back to 200', async (t) => {
  const app = await startExampleApp({ env: { POOL_MAX_THREADS: '2', TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '100', DRAIN_GRACE_MS: '0' } })
  t.teardown(() => app.stop())
  const stream = new AbortController()
  t.teardown(() => { stream.abort() })
  const samples = await watchSamples(app.url, stream.signal)

  // 8 tasks of 600 ms on 2 threads: busy for about 1.8 s, bounded in count and time.
  const requests = Array.from({ length: 8 }, async () => await fetch(`${app.url}/block?ms=600`))
  const busy = await samples.waitFor((sample) => sample.kind === 'busy')
  t.ok(busy.busy && busy.queued > busy.idleThreads, 'the busy transition carries a snapshot with queued > idle')

  const saturated = await fetch(`${app.url}/`, { method: 'OPTIONS' })
  t.equal(saturated.status, 503, 'the probe answers 503 while busy')

  const free = await samples.waitFor((sample) => sample.kind === 'free')
  t.notOk(free.busy)
  const recovered = await fetch(`${app.url}/`, { method: 'OPTIONS' })
  t.equal(recovered.status, 200, 'the probe answers 200 once the queue has drained')

  const statuses = await Promise.all(requests.map(async (request) => (await request).status))
  t.same(statuses, Array(8).fill(200), 'every blocking request succeeded')
  t.ok(free.transitions.busy >= 1 && free.transitions.free >= 1)
})

// Every task here has an AbortSignal (the client-disconnect signal and the deadline); the pool
// enforces maxQueue on its own queue for those too (lib/pool/pool.ts), so the limit holds.
t.test('a full queue answers 503 with its error code', async (t) => {
  const app = await startExampleApp({ env: { POOL_MAX_THREADS: '1', POOL_MAX_QUEUE: '1', TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '100' } })
  t.teardown(() => app.stop())
  const stream = new AbortController()
  t.teardown(() => { stream.abort() })
  const samples = await watchSamples(app.url, stream.signal)

  const first = Array.from({ length: 2 }, async () => (await fetch(`${app.url}/block?ms=800`)).status)
  // One task runs and one waits: the queue (limit 1) is full.
  await samples.waitFor((sample) => sample.running === 1 && sample.queued === 1)
  const refused = await fetch(`${app.url}/block?ms=800`)
  t.equal(refused.status, 503)
  t.match(await refused.json(), { code: 'FST_BACKPRESSURE_QUEUE_FULL' })
  t.same(await Promise.all(first), [200, 200], 'the running and the queued task both finished')
})

t.test('a client that leaves drops its queued task', async (t) => {
  const app = await startExampleApp({ env: { POOL_MAX_THREADS: '2', TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '100', DRAIN_GRACE_MS: '0' } })
  t.teardown(() => app.stop())
  const stream = new AbortController()
  t.teardown(() => { stream.abort() })
  const samples = await watchSamples(app.url, stream.signal)

  const running = Array.from({ length: 2 }, async () => (await fetch(`${app.url}/block?ms=1500`)).status)
  const leaving = new AbortController()
  const abandoned = fetch(`${app.url}/block?ms=1500`, { signal: leaving.signal })
  await samples.waitFor((sample) => sample.running === 2 && sample.queued === 1)
  leaving.abort()
  await t.rejects(abandoned, { name: 'AbortError' })
  const dropped = await samples.waitFor((sample) => sample.failed === 1)
  t.equal(dropped.queued, 0, 'the abandoned task left the queue')
  t.equal(dropped.completed, 0, 'before any running task finished')
  t.same(await Promise.all(running), [200, 200], 'the running requests were not affected')
})

t.test('SIGTERM drains: the probe says so at once, in-flight requests finish, exit code 0', async (t) => {
  const app = await startExampleApp({ env: { POOL_MAX_THREADS: '2', TASK_TIMEOUT_MS: '30000', DRAIN_GRACE_MS: '1000', DASHBOARD_INTERVAL_MS: '100' } })
  t.teardown(() => app.stop({ signal: 'SIGKILL' }))
  const stream = new AbortController()
  t.teardown(() => { stream.abort() })
  const samples = await watchSamples(app.url, stream.signal)
  // A probe has been seen, so the app knows a balancer watches it and keeps the drain grace.
  t.equal((await fetch(`${app.url}/`, { method: 'OPTIONS' })).status, 200)

  const count = 6
  const requests = Array.from({ length: count }, async () => {
    const response = await fetch(`${app.url}/block?ms=400`)
    return { status: response.status, body: await response.text() }
  })
  // Every request has reached the pool (running or queued) before the signal.
  await samples.waitFor((sample) => sample.queued + sample.running === count)

  process.kill(app.pid, 'SIGTERM')
  await samples.waitFor((sample) => sample.probe === 'draining')
  const probe = await fetch(`${app.url}/`, { method: 'OPTIONS' })
  t.equal(probe.status, 503, 'the probe answers 503 as soon as draining starts')

  const exit = await app.exited
  t.same(exit, { code: 0, signal: null }, 'exited 0 on its own after SIGTERM')
  const results = await Promise.all(requests)
  t.same(results.map((result) => result.status), Array(count).fill(200), 'no in-flight request failed')
  t.same(results.map((result) => result.body), Array(count).fill('{"blockedMs":400}'))
  // An open SSE response would hold server.close(): the exit above shows the app ended it.
  await samples.ended()
})
