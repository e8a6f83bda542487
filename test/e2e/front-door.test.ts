// Through a real HAProxy (`option httpchk`, its default probe `OPTIONS / HTTP/1.0`): two apps laid
// out the way that used to leave HAProxy with a server DOWN forever: (b) the suite inside a prefixed
// encapsulated context (the probe got 404), (d) @fastify/cors with its defaults registered first
// (the probe got 400). Both come UP, go DOWN when their pool is saturated, and come back.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import cors from '@fastify/cors'
import t from 'tap'
import backpressure from '../../index.js'
import type { BackpressurePool } from '../../lib/pool/pool.js'
import { WORKER } from '../helpers/app.js'
import { FAST_CHECKS, haproxyBinaryOrSkip, startHaproxy } from '../helpers/haproxy.js'

const SUITE = { pool: { filename: WORKER, minThreads: 1, maxThreads: 1, execArgv: [] }, httpchk: { drain: { grace: 0 } }, metrics: false as const }

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('(b) prefixed context and (d) after @fastify/cors: UP, DOWN while saturated, UP again', async (t) => {
    // (b)
    const prefixed = Fastify()
    t.teardown(() => prefixed.close())
    let apiPool: BackpressurePool | undefined
    prefixed.register(async (api) => {
      await api.register(backpressure, SUITE)
      api.get('/hello', async () => 'prefixed')
      apiPool = api.pool
    }, { prefix: '/api' })
    const prefixedPort = await listen(prefixed)
    // (d)
    const withCors = Fastify()
    t.teardown(() => withCors.close())
    await withCors.register(cors)
    await withCors.register(backpressure, SUITE)
    withCors.get('/api/hello', async () => 'cors')
    const corsPort = await listen(withCors)

    const haproxy = await startHaproxy(t, binary, {
      recipe: 'httpchk',
      ...FAST_CHECKS,
      servers: [{ name: 'prefixed', port: prefixedPort }, { name: 'cors', port: corsPort }]
    })
    t.same((await haproxy.servers()).map((row) => `${row.svname} ${row.status}`), ['prefixed UP', 'cors UP'], 'both UP from the start')

    for (const [name, pool] of [['prefixed', apiPool as BackpressurePool], ['cors', withCors.pool]] as const) {
      const busy = once(pool, 'busy')
      // One thread held, one task queued: busy until released (tasks end after 1.5 s at most).
      const tasks = [1, 2].map(() => pool.run({ op: 'block', ms: 1500 }))
      await busy
      await t.resolves(haproxy.waitForServer(name, (status) => status === 'DOWN'), `${name}: DOWN while saturated`)
      await Promise.all(tasks)
      await t.resolves(haproxy.waitForServer(name, (status) => status === 'UP'), `${name}: UP again`)
    }
    const answer = await fetch(`${haproxy.url}/api/hello`)
    t.match(await answer.text(), /^(prefixed|cors)$/, 'traffic flows through HAProxy')
  })
}
