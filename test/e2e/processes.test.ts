// Several processes per host, behind a real HAProxy: the recipe of docs/processes.md
// (example-app/cluster.mjs: node:cluster, one port per worker, one `server` line per process).
// One worker saturated goes DOWN alone; the others stay UP; SIGTERM to the primary drains them all.
// And the configuration that would mislead the balancer (workers sharing one port) is refused.
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { nodeEnv, startChild } from '../../tools/child.mjs'
import { freePortRange } from '../../tools/ports.mjs'
import { FAST_CHECKS, haproxyBinaryOrSkip, startHaproxy } from '../helpers/haproxy.js'

const CLUSTER = fileURLToPath(new URL('../../example-app/cluster.mjs', import.meta.url))
const SHARED_PORT_CLUSTER = fileURLToPath(new URL('../fixtures/shared-port-cluster.ts', import.meta.url))

interface ClusterServer { name: string, port: number, agentPort: number, pid: number }

t.test('in a node:cluster worker without httpchk.ownPort, registration fails with FST_BACKPRESSURE_SHARED_PORT', async (t) => {
  // With the test's execArgv (the TypeScript loader), inherited by the cluster worker.
  const child = startChild(process.execPath, [...process.execArgv, SHARED_PORT_CLUSTER])
  t.teardown(() => child.stop())
  const line = await child.waitForLine((l) => l.startsWith('RESULT '))
  const results = JSON.parse(line.slice('RESULT '.length)) as { shared: string, own: string }
  t.equal(results.shared, 'FST_BACKPRESSURE_SHARED_PORT', 'shared port refused')
  t.equal(results.own, 'free', 'ownPort: true starts, and the probe answers for this process')
  t.same(await child.exited, { code: 0, signal: null })
})

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('three processes on consecutive ports: each has its own server line and its own truth', async (t) => {
    const base = await freePortRange(6)
    const cluster = startChild(process.execPath, [CLUSTER], {
      env: nodeEnv({ WORKERS: '3', BASE_PORT: String(base), POOL_MAX_THREADS: '1', POOL_MAX_QUEUE: '8', DRAIN_GRACE_MS: '300', LOG_LEVEL: 'warn' })
    })
    t.teardown(() => cluster.stop({ killAfterMs: 10_000 }))
    const ready = await cluster.waitForLine((line) => line.startsWith('CLUSTER_READY '))
    await cluster.waitForLine((line) => line.startsWith('  server app3 '))
    const { servers } = JSON.parse(ready.slice('CLUSTER_READY '.length)) as { servers: ClusterServer[] }
    t.same(servers.map((server) => [server.name, server.port, server.agentPort]), [['app1', base, base + 1], ['app2', base + 2, base + 3], ['app3', base + 4, base + 5]])
    t.equal(new Set(servers.map((server) => server.pid)).size, 3, 'three processes')
    t.match(cluster.output(), new RegExp(`server app2 127\\.0\\.0\\.1:${base + 2} check .*agent-port ${base + 3}`), 'the HAProxy server lines are printed')

    const haproxy = await startHaproxy(t, binary, {
      recipe: 'httpchk',
      ...FAST_CHECKS,
      servers: servers.map(({ name, port, agentPort }) => ({ name, port, agentPort }))
    })
    // Saturate app2 alone, on its own port: one thread blocked, two tasks queued behind it (all
    // three end within the example app's 2 s task timeout).
    const blocked = [1, 2, 3].map(() => fetch(`http://127.0.0.1:${base + 2}/block?ms=600`).then((response) => response.status))
    await t.resolves(haproxy.waitForServer('app2', (status) => status === 'DOWN'), 'app2 DOWN while saturated')
    const states = Object.fromEntries((await haproxy.servers()).map((row) => [row.svname, row.status]))
    t.same(states, { app1: 'UP', app2: 'DOWN', app3: 'UP' }, 'the others stay UP: each probe answers for its own process')
    t.same(await Promise.all(blocked), [200, 200, 200])
    await t.resolves(haproxy.waitForServer('app2', (status) => status === 'UP'), 'app2 UP again once free')

    const exit = await cluster.stop({ signal: 'SIGTERM', killAfterMs: 30_000 })
    t.same(exit, { code: 0, signal: null }, 'SIGTERM to the primary: every worker drained and exited, then the primary')
  })
}
