// Rolling restart under steady load, zero failed client requests. Each instance in turn gets SIGTERM:
// the app reports draining at once (probe 503, agent `drain`), keeps serving for its grace period
// while HAProxy takes it out, lets in-flight work finish, and exits 0. Its replacement starts on
// ports the OS picks, HAProxy's server is pointed at them through the runtime API (a released port
// can be taken by another program before the replacement binds it: see restartInstance in
// test/helpers/haproxy.ts), and the next instance waits until HAProxy reads the replacement exactly UP.
import t from 'tap'
import { FAST_CHECKS, haproxyBinaryOrSkip, runLoad, startCluster, type LoadResult } from '../helpers/haproxy.js'
import type { Recipe } from '../../example-app/haproxy-config.mjs'

const { inter: INTER, fall: FALL } = FAST_CHECKS
const TIMINGS = { ...FAST_CHECKS, servedBy: true }
// Grace: HAProxy needs up to inter × (fall + 1) to see the drain (the plugin's default formula),
// plus a margin for a loaded machine.
// Two threads each and two clients: the load fits in one instance, so the survivor is never busy
// while the other restarts (with httpchk only, a busy survivor would go DOWN too: see queueing.test.ts).
const APP_ENV = { POOL_MAX_THREADS: '2', POOL_MAX_QUEUE: '16', TASK_TIMEOUT_MS: '10000', DRAIN_GRACE_MS: String(INTER * (FALL + 1) + 400) }

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  for (const recipe of ['httpchk', 'agent'] as Recipe[]) {
    t.test(`${recipe}: restart every instance one at a time under load, zero failed requests`, async (t) => {
      const cluster = await startCluster(t, binary, {
        recipe,
        instances: 2,
        ...TIMINGS,
        env: recipe === 'agent' ? APP_ENV : { ...APP_ENV, AGENT_PORT: 'off' }
      })
      const { haproxy } = cluster
      const stop = new AbortController()
      // Bounded: 2 clients, at most 20000 requests or 60 s, stopped as soon as the restarts are done.
      const loadDone: Promise<LoadResult> = runLoad({ url: `${haproxy.url}/block?ms=20`, concurrency: 2, maxRequests: 20000, maxMs: 60000, signal: stop.signal })
      const exits = []
      const pids = cluster.instances.map(({ app }) => app.pid)
      try {
        for (let index = 0; index < cluster.instances.length; index++) {
          exits.push(await cluster.restart(index, { timeout: 15000 }))
        }
      } finally {
        stop.abort()
      }
      const load = await loadDone
      t.same(load.failures, [], `no failed request (${load.ok} served in ${Math.round(load.elapsedMs)} ms)`)
      t.ok(load.ok > 50, `steady load ran throughout (${load.ok} requests)`)
      t.same(exits, [{ code: 0, signal: null }, { code: 0, signal: null }], 'each old process drained and exited 0')
      t.notSame(cluster.instances.map(({ app }) => app.pid), pids, 'new processes')
      t.same((await haproxy.servers()).map((row) => row.status), ['UP', 'UP'])
      t.ok((load.byServer.app1 ?? 0) > 0 && (load.byServer.app2 ?? 0) > 0, `both served: ${JSON.stringify(load.byServer)}`)
      t.comment(`figures rolling-restart ${recipe}: failed=${load.failures.length} ok=${load.ok}`)
    })
  }
}
