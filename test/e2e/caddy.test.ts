// A second kind of balancer: Caddy 2.6 `reverse_proxy` with active health checks (GET only, one
// failure takes an upstream out, one pass brings it back). A busy process leaves rotation and
// returns, as behind HAProxy. What Caddy cannot do that the agent does (weights, maxconn, drain) is
// in docs/caddy.md.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import backpressure from '../../index.js'
import { startCaddy } from '../../tools/caddy.mjs'
import { CADDY, programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { WORKER } from '../helpers/app.js'

async function startApp (t: Test, name: string): Promise<{ app: FastifyInstance, port: number }> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(backpressure, {
    pool: { filename: WORKER, minThreads: 1, maxThreads: 1, execArgv: [] },
    httpchk: { method: 'GET', url: '/healthz', drain: { grace: 0 } },
    metrics: false
  })
  app.get('/who', async () => name)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as AddressInfo).port }
}

/** Which app answers each of `count` requests through Caddy. */
async function served (url: string, count: number): Promise<string[]> {
  const names: string[] = []
  for (let i = 0; i < count; i++) names.push(await (await fetch(`${url}/who`)).text())
  return names
}

/** Asks through Caddy until `predicate` holds for a batch, or the time runs out (Caddy's checks run on their own timer). */
async function until (url: string, predicate: (names: string[]) => boolean, timeoutMs = 10_000): Promise<string[]> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const names = await served(url, 6)
    if (predicate(names)) return names
    if (Date.now() > end) throw new Error(`not reached within ${timeoutMs} ms; last batch: ${names.join(',')}`)
  }
}

t.test('Caddy active health checks: a busy process leaves rotation and returns', skipUnlessInstalled(CADDY), async (t) => {
  const one = await startApp(t, 'app1')
  const two = await startApp(t, 'app2')
  const caddy = await startCaddy({
    binary: programPath(CADDY),
    upstreams: [{ port: one.port }, { port: two.port }],
    intervalMs: 100,
    timeoutMs: 500
  })
  t.teardown(() => caddy.stop())
  const both = await until(caddy.url, (names) => names.includes('app1') && names.includes('app2'))
  t.ok(both.includes('app1') && both.includes('app2'), 'both in rotation')

  // app1's only thread blocked and a task queued: busy until they finish.
  const busy = once(one.app.pool, 'busy')
  const tasks = [1, 2].map(() => one.app.pool.run({ op: 'block', ms: 3000 }))
  await busy
  const out = await until(caddy.url, (names) => names.every((name) => name === 'app2'))
  t.same([...new Set(out)], ['app2'], 'busy app1 left rotation: every request went to app2')

  await Promise.all(tasks)
  const back = await until(caddy.url, (names) => names.includes('app1'))
  t.ok(back.includes('app1'), 'app1 returned once free')
})
