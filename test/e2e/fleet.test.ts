// The original topology: four HAProxy instances (nodes lb1–lb4), each with its own clients and its
// own checks every `inter`, in front of three app processes bound to three loopback addresses
// (127.0.0.2–127.0.0.4 stand in for three hosts). Every balancer sends X-Haproxy-Server-State.
// - A blip on one process: all four balancers take it out and bring it back; its queue stays
//   bounded; the other processes carry the load.
// - A rolling restart of every process under steady load through all four: 0 failed requests,
//   counted per balancer.
import t, { type Test } from 'tap'
import type { ExampleAppExit } from '../../tools/example-app.mjs'
import { startUpstream } from '../../example-app/upstream.mjs'
import { startFaultProxy } from '../../tools/fault-proxy.mjs'
import { watchMax } from '../../tools/prometheus-text.mjs'
import { FAST_CHECKS, haproxyBinaryOrSkip, metricValue, restartInstance, runLoad, serverOf, startHaproxy, startInstance, type ClusterInstance, type Haproxy, type LoadResult } from '../helpers/haproxy.js'

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4']
const BALANCERS = 4
const { inter: INTER, fall: FALL } = FAST_CHECKS
const TIMINGS = { ...FAST_CHECKS, servedBy: true }
const MAX_QUEUE = 8

interface Fleet {
  processes: ClusterInstance[]
  balancers: Haproxy[]
  /** Every balancer's view of one process. */
  statuses: (name: string) => Promise<string[]>
  /** Resolves once every balancer sees `name` in `status`. */
  waitAll: (name: string, status: string) => Promise<void>
  /** `restartInstance` on process `index` behind all four balancers. */
  restart: (index: number) => Promise<ExampleAppExit>
}

async function startFleet (t: Test, binary: string, env: (index: number) => Record<string, string>): Promise<Fleet> {
  const processes: ClusterInstance[] = []
  for (const [index, host] of HOSTS.entries()) {
    // No agent: every balancer runs the httpchk recipe.
    processes.push(await startInstance(t, `app${index + 1}`, { ...env(index), HOST: host, AGENT_PORT: 'off' }))
  }
  const balancers: Haproxy[] = []
  for (let index = 0; index < BALANCERS; index++) {
    balancers.push(await startHaproxy(t, binary, {
      recipe: 'httpchk',
      node: `lb${index + 1}`,
      ...TIMINGS,
      servers: processes.map(serverOf)
    }))
  }
  const statuses = async (name: string): Promise<string[]> =>
    await Promise.all(balancers.map(async (haproxy) => (await haproxy.servers()).find((row) => row.svname === name)?.status ?? '?'))
  const waitAll = async (name: string, status: string): Promise<void> => {
    await Promise.all(balancers.map(async (haproxy) => await haproxy.waitForServer(name, (current) => current === status, { timeout: 15000 })))
  }
  const restart = async (index: number): Promise<ExampleAppExit> => await restartInstance(processes[index] as ClusterInstance, balancers, { timeout: 15000 })
  return { processes, balancers, statuses, waitAll, restart }
}

/** Resolves once `process`'s metrics say every node in `nodes` considers it UP (the gauge is read at
 * scrape time from `app.backpressure.serverStates()`; the nodes' checks arrive on their own timers). */
async function waitForBalancerView (process: ClusterInstance, nodes: string[]): Promise<void> {
  const end = Date.now() + 15_000
  for (;;) {
    const text = await (await fetch(`${process.app.url}/metrics`)).text()
    if (nodes.every((node) => metricValue(text, `backpressure_balancer_server_up{node="${node}"}`) === 1)) return
    if (Date.now() > end) throw new Error(`not every node says UP:\n${text.split('\n').filter((line) => line.startsWith('backpressure_balancer_server_up')).join('\n')}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Steady load through every balancer, each with its own client, until `signal` aborts. Four
 * clients in all: what two of the three processes can carry without going busy (with httpchk only,
 * a fleet that is busy everywhere is DOWN everywhere: test/e2e/queueing.test.ts shows that case). */
function loadEach (balancers: Haproxy[], path: string, signal: AbortSignal): Promise<LoadResult[]> {
  return Promise.all(balancers.map((haproxy) => runLoad({ url: `${haproxy.url}${path}`, concurrency: 1, maxRequests: 20000, maxMs: 90000, signal })))
}

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('a blip on one process: all four balancers take it out and bring it back; the others carry the load', async (t) => {
    // The example app's own upstream, answering in 5 ms; app1 reaches it through the fault proxy.
    const upstream = await startUpstream({ host: '127.0.0.1', delayMs: 5 })
    t.teardown(() => upstream.close())
    const upstreamUrl = upstream.url
    const proxy = await startFaultProxy(t, { port: upstream.port })
    const fleet = await startFleet(t, binary, (index) => ({
      // app1, the blip's victim: two threads. The survivors: room for the whole load.
      POOL_MAX_THREADS: index === 0 ? '2' : '4',
      POOL_MAX_QUEUE: String(MAX_QUEUE),
      TASK_TIMEOUT_MS: '3000',
      UPSTREAM_TIMEOUT_MS: '400',
      UPSTREAM_URL: index === 0 ? proxy.url : upstreamUrl
    }))
    const [app1] = fleet.processes as [ClusterInstance]

    const queueWatch = watchMax(`${app1.app.url}/metrics`, ['backpressure_pool_queue_depth', 'backpressure_lane_queue_depth'])

    const stop = new AbortController()
    const loads = loadEach(fleet.balancers, '/upstream', stop.signal)
    try {
      await Promise.all(fleet.balancers.map((haproxy) => haproxy.waitForServer('app1', (_status, row) => Number(row.stot) >= 5, { timeout: 15000 })))
      await t.resolves(fleet.waitAll('app1', 'UP'), 'steady: every balancer has app1 UP')
      proxy.setDelay(1500)
      await t.resolves(fleet.waitAll('app1', 'DOWN'), 'the blip: all four balancers take app1 out')
      proxy.setDelay(0)
      await t.resolves(fleet.waitAll('app1', 'UP'), 'the blip over: all four bring it back')
      // app1 knows which balancers consider it UP: the four nodes, from their X-Haproxy-Server-State.
      await t.resolves(waitForBalancerView(app1, ['lb1', 'lb2', 'lb3', 'lb4']), 'app1 sees all four balancers consider it UP')
    } finally {
      stop.abort()
    }
    const results = await loads
    const maxQueue = Math.max(...Object.values(await queueWatch.stop()))
    t.ok(maxQueue <= MAX_QUEUE, `app1's queue stayed bounded (max ${maxQueue}, limit ${MAX_QUEUE})`)
    t.ok(proxy.delayedChunks > 0, 'the fault proxy delayed app1\'s upstream calls')
    for (const [index, load] of results.entries()) {
      const unexpected = load.failures.filter((failure) => !failure.startsWith('status 504'))
      t.same(unexpected, [], `lb${index + 1}: only upstream timeouts failed (${load.failures.length} of ${load.sent}); served ${JSON.stringify(load.byServer)}`)
      t.ok((load.byServer.app2 ?? 0) > 0 && (load.byServer.app3 ?? 0) > 0, `lb${index + 1}: app2 and app3 carried load`)
    }
  })

  t.test('a rolling restart of every process under load through all four balancers: 0 failed requests per balancer', async (t) => {
    const grace = String(INTER * (FALL + 1) + 400)
    const fleet = await startFleet(t, binary, () => ({ POOL_MAX_THREADS: '4', POOL_MAX_QUEUE: '16', TASK_TIMEOUT_MS: '10000', DRAIN_GRACE_MS: grace }))
    const stop = new AbortController()
    const loads = loadEach(fleet.balancers, '/block?ms=20', stop.signal)
    const exits = []
    try {
      for (let index = 0; index < fleet.processes.length; index++) exits.push(await fleet.restart(index))
    } finally {
      stop.abort()
    }
    const results = await loads
    t.same(exits, HOSTS.map(() => ({ code: 0, signal: null })), 'each old process drained and exited 0')
    for (const [index, load] of results.entries()) {
      t.same(load.failures, [], `lb${index + 1}: 0 failed of ${load.sent} (${JSON.stringify(load.byServer)})`)
      t.ok(load.ok > 20, `lb${index + 1}: steady load ran throughout (${load.ok})`)
    }
    for (const process of fleet.processes) t.same(await fleet.statuses(process.name), ['UP', 'UP', 'UP', 'UP'], `${process.name} UP on every balancer`)
  })
}
