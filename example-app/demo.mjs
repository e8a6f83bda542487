// The demo: `npm run demo` (or `node example-app/demo.mjs [httpchk|disable-on-404|agent] [--balancers N | --adaptive | --priorities]`).
//
// Two example-app instances behind a real HAProxy (the recipe from example-app/haproxy-config.mjs,
// default "agent"), a bounded load through HAProxy, and a blip: app1's upstream turns slow for a few
// seconds. Every second it prints each instance's queue depth, busy state and HAProxy's view, then
// writes the same timeline as an SVG chart (docs/images/demo-timeline.svg, or DEMO_SVG=path).
//
// `--balancers N` (N > 1): the fleet instead, N HAProxy instances (nodes lb1…lbN), each with its own
// share of the load, in front of three instances bound to 127.0.0.2, 127.0.0.3 and 127.0.0.4 (three
// "hosts"); the chart (docs/images/demo-fleet.svg) shows how many balancers have each instance in
// rotation, second by second.
//
// `--adaptive`: both instances' `upstream` lanes get an adaptive concurrency (UPSTREAM_ADAPTIVE=1:16:8)
// instead of 2 fixed slots; the table and the chart (docs/images/demo-adaptive.svg) add each lane's
// concurrency and, with the agent recipe, the maxconn HAProxy applies to the server (the agent's
// reply follows the concurrency).
// `--priorities`: a prefetch spike instead of a blip. Both instances serve /critical (priority 10)
// and /prefetch (priority 0) from the pool; HAProxy's queue serves /critical first too
// (`http-request set-priority-class`, docs/priorities.md). Critical requests arrive at 30% of the
// two instances' capacity throughout, prefetch requests at 10x it during the middle third; the chart
// (docs/images/demo-priorities.svg) draws the share of each class answered 200, second by second,
// the queues by priority and the busy state.
// Bounded: about 35 s and at most 50000 requests. Every process it starts is stopped by PID.
//
// Env: DEMO_SECONDS (32), DEMO_BLIP_FROM (10), DEMO_BLIP_SECONDS (8), DEMO_RATE (120 requests/s,
// open loop, at most 64 in flight: a steady load below the pools' capacity),
// DEMO_SVG (docs/images/demo-timeline.svg), HAPROXY_PATH (found on PATH or in /usr/sbin otherwise).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { RECIPES } from './haproxy-config.mjs'
import { startUpstream } from './upstream.mjs'
import { startFaultProxy } from '../tools/fault-proxy.mjs'
import { chart } from '../scripts/svg-chart.mjs'
import { stopAll } from '../tools/child.mjs'
import { startExampleApp } from '../tools/example-app.mjs'
import { startHaproxy } from '../tools/haproxy.mjs'
import { openLoopLoad } from '../tools/load.mjs'
import { metricValue } from '../tools/prometheus-text.mjs'
import { HAPROXY, findProgram, missingMessage } from '../tools/system.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { balancers: { type: 'string', default: '1' }, adaptive: { type: 'boolean', default: false }, priorities: { type: 'boolean', default: false } } })
const recipe = positionals[0] ?? 'agent'
const BALANCERS = Number(args.balancers)
const FLEET = BALANCERS > 1
const ADAPTIVE = args.adaptive
const PRIORITIES = args.priorities
// The adaptive lane: from 1 to 16 calls at once, starting at 8 (the fixed lane has 2 slots).
const UPSTREAM_ADAPTIVE = '1:16:8'
// The fleet: three "hosts" on loopback addresses; otherwise two instances on 127.0.0.1.
const HOSTS = FLEET ? ['127.0.0.2', '127.0.0.3', '127.0.0.4'] : ['127.0.0.1', '127.0.0.1']
const SECONDS = Number(process.env.DEMO_SECONDS ?? 32)
const BLIP_FROM = Number(process.env.DEMO_BLIP_FROM ?? 10)
const BLIP_SECONDS = Number(process.env.DEMO_BLIP_SECONDS ?? 8)
const MAX_IN_FLIGHT = 64
const RATE = Number(process.env.DEMO_RATE ?? 120)
const MAX_REQUESTS = 50000
const SVG_PATH = process.env.DEMO_SVG ?? join(ROOT, FLEET ? 'docs/images/demo-fleet.svg' : ADAPTIVE ? 'docs/images/demo-adaptive.svg' : PRIORITIES ? 'docs/images/demo-priorities.svg' : 'docs/images/demo-timeline.svg')
const UPSTREAM_TIMEOUT_MS = 1000
const BLIP_DELAY_MS = 3000

if (!Number.isInteger(BALANCERS) || BALANCERS < 1 || BALANCERS > 8) {
  console.error(`--balancers must be an integer from 1 to 8; received ${args.balancers}`)
  process.exit(2)
}
if (FLEET && ADAPTIVE) {
  console.error('--adaptive runs with one balancer; leave out --balancers')
  process.exit(2)
}
if (PRIORITIES && (FLEET || ADAPTIVE || recipe !== 'agent')) {
  console.error('--priorities runs with the agent recipe and one balancer; leave out --balancers and --adaptive')
  process.exit(2)
}
if (!RECIPES.includes(recipe)) {
  console.error(`unknown recipe "${recipe}"; use one of ${RECIPES.join(', ')}`)
  process.exit(2)
}
const haproxyBinary = findProgram(HAPROXY)
if (haproxyBinary === undefined) {
  console.error(`The demo needs HAProxy 2.6 or later. ${missingMessage(HAPROXY)}`)
  process.exit(1)
}

// ---- everything started here is stopped in cleanup(), also on Ctrl-C: children by PID ----
const stoppers = []
async function cleanup () {
  await Promise.all(stoppers.splice(0).map((stop) => stop().catch(() => {})))
  await stopAll()
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { void cleanup().finally(() => process.exit(130)) })
}

async function metrics (url) {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(900) })).text()
  // /upstream runs in the lane "upstream" (the pool serves /page and /block): both count.
  const queue = (metricValue(text, 'backpressure_pool_queue_depth') ?? 0) + (metricValue(text, 'backpressure_lane_queue_depth') ?? 0)
  const busy = Math.min(1, (metricValue(text, 'backpressure_pool_busy') ?? 0) + (metricValue(text, 'backpressure_lane_busy') ?? 0))
  // The lane's current concurrency (fixed: its slots; adaptive: where latency has taken it).
  const concurrency = metricValue(text, 'backpressure_lane_concurrency') ?? NaN
  return { queue, busy, concurrency }
}

/** A `show stat` row's effective weight, 0 when the server is out of rotation. */
function inRotation (row) {
  const status = row?.status ?? ''
  return status.startsWith('UP') || status.startsWith('DRAIN') ? Number(row.weight ?? 0) : 0
}

async function main () {
  // One upstream (the example app's own, 5 ms); app1 reaches it through the fault proxy, whose delay
  // is the blip; app2 directly.
  const upstream = await startUpstream({ host: '127.0.0.1', delayMs: 5 })
  stoppers.push(upstream.close)
  const proxy = await startFaultProxy(undefined, { port: upstream.port })
  stoppers.push(proxy.close)
  const upstreamUrls = HOSTS.map((_host, index) => index === 0 ? proxy.url : upstream.url)
  const inter = 500
  const fall = 2
  const apps = []
  for (const [index, upstreamUrl] of upstreamUrls.entries()) {
    const host = HOSTS[index]
    const app = await startExampleApp({
      stderr: 'inherit',
      env: {
        // PORT and AGENT_PORT stay 0 (tools/example-app.mjs): the OS picks them, and HAProxy's
        // config below is written from the ports the app reports.
        HOST: host,
        ...(recipe === 'agent' ? {} : { AGENT_PORT: 'off' }),
        POOL_MAX_THREADS: '2',
        POOL_MAX_QUEUE: '16',
        TASK_TIMEOUT_MS: '5000',
        UPSTREAM_URL: upstreamUrl,
        UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
        DRAIN_GRACE_MS: String(inter * (fall + 1)),
        ...(ADAPTIVE ? { UPSTREAM_ADAPTIVE } : {}),
        ...(recipe === 'disable-on-404' ? { HTTPCHK_METHOD: 'GET', HTTPCHK_URL: '/healthz', HTTPCHK_UNAVAILABLE_STATUS: '404' } : {})
      }
    })
    stoppers.push(() => app.stop({ killAfterMs: 10000 }))
    apps.push({ ...app, name: `app${index + 1}`, host })
  }
  // Ready once every server reads exactly UP on each stats socket.
  const balancers = []
  for (let index = 0; index < BALANCERS; index++) {
    const haproxy = await startHaproxy({
      binary: haproxyBinary,
      readyTimeout: 15000,
      recipe,
      node: `lb${index + 1}`,
      servedBy: true,
      inter,
      fastinter: 250,
      downinter: 500,
      agentInter: inter,
      rise: 2,
      fall,
      timeoutQueue: 5000,
      servers: apps.map((app) => ({ name: app.name, host: app.host, port: app.port, agentPort: app.agentPort }))
    })
    stoppers.unshift(() => haproxy.stop())
    balancers.push(haproxy)
  }
  console.log(`HAProxy ${haproxyBinary} (recipe "${recipe}") × ${BALANCERS} on ${balancers.map((haproxy) => haproxy.url).join(', ')}; ${apps.map((app) => `${app.name} ${app.url}`).join(', ')}`)
  if (ADAPTIVE) console.log(`Adaptive upstream lanes: UPSTREAM_ADAPTIVE=${UPSTREAM_ADAPTIVE} (min:max:initial)${recipe === 'agent' ? '; the agent\'s maxconn = pool threads + lane concurrency, doubled for the queue' : ''}.`)
  console.log(`Load: ${RATE} requests/s (open loop, at most ${MAX_IN_FLIGHT} in flight) on GET /upstream for ${SECONDS} s; blip: app1's upstream answers after ${BLIP_DELAY_MS} ms (worker timeout ${UPSTREAM_TIMEOUT_MS} ms) from ${BLIP_FROM} s to ${BLIP_FROM + BLIP_SECONDS} s.\n`)

  // Warm each instance's upstream connections first: a cold start (the first fetch opens its
  // connection) would show up as a busy lane in the first second.
  for (const app of apps) {
    for (let i = 0; i < 4; i++) await (await fetch(`${app.url}/upstream`)).arrayBuffer()
  }

  // ---- bounded load through HAProxy ----
  const started = Date.now()
  const perSecond = []
  const bucket = () => {
    const second = Math.floor((Date.now() - started) / 1000)
    perSecond[second] ??= { ok: 0, failed: 0, byServer: {} }
    return perSecond[second]
  }
  // Open loop: RATE arrivals per second whatever the answers take (as real users arrive), at most
  // MAX_IN_FLIGHT outstanding so the load stays bounded (tools/load.mjs).
  const loadDone = Promise.all(balancers.map((haproxy) => openLoopLoad({
    url: `${haproxy.url}/upstream`,
    // Each balancer gets its own clients, and its share of the load.
    ratePerS: RATE / BALANCERS,
    durationMs: SECONDS * 1000,
    maxInFlight: Math.ceil(MAX_IN_FLIGHT / BALANCERS),
    maxRequests: Math.ceil(MAX_REQUESTS / BALANCERS),
    onResult ({ status, headers }) {
      const counts = bucket()
      if (status !== undefined && status >= 200 && status < 300) {
        counts.ok++
        const server = String(headers?.['x-served-by'] ?? '?')
        counts.byServer[server] = (counts.byServer[server] ?? 0) + 1
      } else {
        counts.failed++
      }
    }
  })))

  // ---- the timeline: one sample per second ----
  const timeline = []
  // With several balancers, "haproxy" says how many of them have the instance UP, and "weight" is
  // the mean effective weight over all of them (0 where it is out of rotation).
  const header = ['  t', 'blip', ...apps.flatMap((app) => [`${app.name} queue`, 'busy', ...(ADAPTIVE ? ['concurrency', 'maxconn'] : []), FLEET ? 'UP on' : 'haproxy', 'weight']), 'hap queue', 'ok/s', 'err/s']
  console.log(header.join(' | '))
  for (let second = 1; second <= SECONDS; second++) {
    // The proxy holds the request and the answer each for half the blip.
    if (second - 1 === BLIP_FROM) proxy.setDelay(BLIP_DELAY_MS / 2)
    if (second - 1 === BLIP_FROM + BLIP_SECONDS) proxy.setDelay(0)
    await sleep(Math.max(0, started + second * 1000 - Date.now()))
    const [stats, pools] = await Promise.all([
      Promise.all(balancers.map((haproxy) => haproxy.stat())),
      Promise.all(apps.map((app) => metrics(app.url).catch(() => ({ queue: NaN, busy: NaN, concurrency: NaN }))))
    ])
    const rowsOf = (name) => stats.map((stat) => stat.find((candidate) => candidate.pxname === 'be_app' && candidate.svname === name))
    const counts = perSecond[second - 1] ?? { ok: 0, failed: 0, byServer: {} }
    const sample = {
      t: second,
      blip: proxy.delayMs > 0,
      apps: apps.map((app, index) => {
        const rows = rowsOf(app.name)
        const statuses = rows.map((row) => row?.status ?? '?')
        return {
          name: app.name,
          queue: pools[index].queue,
          busy: pools[index].busy,
          concurrency: pools[index].concurrency,
          // The server's maxconn as HAProxy applies it (`slim` in `show stat`): the agent's last
          // `maxconn:N` (configuration.txt §5.2 "agent-check"), else the config's static one.
          maxconn: Number(rows[0]?.slim ?? NaN),
          status: FLEET ? `${statuses.filter((status) => status.startsWith('UP')).length}/${BALANCERS}` : statuses[0],
          upOn: statuses.filter((status) => status.startsWith('UP')).length,
          weight: rows.reduce((sum, row) => sum + inRotation(row), 0) / BALANCERS,
          served: counts.byServer[app.name] ?? 0
        }
      }),
      haproxyQueue: stats.reduce((sum, stat) => sum + Number(stat.find((row) => row.pxname === 'be_app' && row.svname === 'BACKEND')?.qcur ?? 0), 0),
      ok: counts.ok,
      failed: counts.failed
    }
    timeline.push(sample)
    console.log([
      String(second).padStart(3),
      sample.blip ? 'BLIP' : '    ',
      ...sample.apps.flatMap((app) => [String(app.queue).padStart(app.name.length + 6), app.busy === 1 ? 'BUSY' : 'free', ...(ADAPTIVE ? [String(app.concurrency).padStart(11), String(app.maxconn).padStart(7)] : []), app.status.padEnd(7), String(Math.round(app.weight)).padStart(6)]),
      String(sample.haproxyQueue).padStart(9),
      String(sample.ok).padStart(4),
      String(sample.failed).padStart(5)
    ].join(' | '))
  }
  await loadDone

  // ---- the chart ----
  const svg = chart({
    title: FLEET
      ? `${apps.length} instances on 3 hosts behind ${BALANCERS} HAProxy instances (recipe "${recipe}"), a blip on app1's upstream`
      : `Two instances behind HAProxy (recipe "${recipe}"${ADAPTIVE ? ', adaptive upstream lanes' : ''}), a blip on app1's upstream`,
    xLabel: 'seconds',
    xMin: 0,
    xMax: SECONDS,
    bands: [{ from: BLIP_FROM, to: BLIP_FROM + BLIP_SECONDS, label: `blip: app1's upstream +${BLIP_DELAY_MS} ms` }],
    panels: [
      { title: 'Queue depth (tasks and upstream calls waiting for a slot)', yLabel: 'tasks', series: apps.map((app, index) => ({ name: app.name, points: timeline.map((s) => [s.t, s.apps[index].queue]) })).concat([{ name: 'HAProxy queue', dashed: true, color: '#555', points: timeline.map((s) => [s.t, s.haproxyQueue]) }]) },
      ...(ADAPTIVE
        ? [{
            title: recipe === 'agent' ? 'Upstream lane: adaptive concurrency (solid) and HAProxy\'s maxconn for the server (dashed)' : 'Upstream lane: adaptive concurrency',
            yLabel: 'calls',
            yMin: 0,
            series: apps.map((app, index) => ({ name: `${app.name} concurrency`, step: true, points: timeline.map((s) => [s.t, s.apps[index].concurrency]) }))
              // Each instance's maxconn in the colour of its concurrency (scripts/svg-chart.mjs's first colours).
              .concat(recipe === 'agent' ? apps.map((app, index) => ({ name: `${app.name} maxconn`, color: ['#1f77b4', '#d62728'][index], step: true, dashed: true, points: timeline.map((s) => [s.t, s.apps[index].maxconn]) })) : [])
          }]
        : []),
      { title: 'Busy (queued > free slots, pool or lane)', yLabel: 'busy', yMin: -0.1, yMax: 1.1, yTicks: [[0, 'free'], [1, 'busy']], series: apps.map((app, index) => ({ name: app.name, step: true, points: timeline.map((s) => [s.t, s.apps[index].busy]) })) },
      ...(FLEET
        ? [{ title: `Balancers that have the instance UP (of ${BALANCERS})`, yLabel: 'balancers', yMin: 0, yMax: BALANCERS + 0.2, yTicks: Array.from({ length: BALANCERS + 1 }, (_, n) => [n, String(n)]), series: apps.map((app, index) => ({ name: app.name, step: true, points: timeline.map((s) => [s.t, s.apps[index].upOn]) })) }]
        : []),
      { title: `HAProxy: effective weight${FLEET ? ', mean over the balancers' : ''} (0 = out of rotation; the agent never sends less than 1)`, yLabel: 'weight', yMin: 0, yMax: 105, series: apps.map((app, index) => ({ name: app.name, step: true, points: timeline.map((s) => [s.t, s.apps[index].weight]) })) },
      { title: 'Requests per second through HAProxy', yLabel: 'req/s', series: [...apps.map((app, index) => ({ name: `${app.name} ok`, points: timeline.map((s) => [s.t, s.apps[index].served]) })), { name: 'errors', color: '#000', dashed: true, points: timeline.map((s) => [s.t, s.failed]) }] }
    ]
  })
  mkdirSync(dirname(SVG_PATH), { recursive: true })
  writeFileSync(SVG_PATH, svg)
  const total = timeline.reduce((sum, s) => ({ ok: sum.ok + s.ok, failed: sum.failed + s.failed }), { ok: 0, failed: 0 })
  if (FLEET) {
    const app1Up = timeline.map((sample) => sample.apps[0].upOn)
    const duringBlip = timeline.filter((sample) => sample.blip).map((sample) => sample.apps[0].upOn)
    console.log(`\napp1 UP on ${Math.min(...duringBlip)} of ${BALANCERS} balancers at the low point of the blip; on ${app1Up.at(-1)} of ${BALANCERS} at the end.`)
  }
  if (ADAPTIVE) {
    const during = timeline.filter((sample) => sample.blip).map((sample) => sample.apps[0])
    const before = timeline.filter((sample) => sample.t <= BLIP_FROM).at(-1)?.apps[0]
    const last = timeline.at(-1)?.apps[0]
    console.log(`\napp1's lane concurrency: ${before?.concurrency} before the blip, down to ${Math.min(...during.map((app) => app.concurrency))} during it, ${last?.concurrency} at the end` +
      (recipe === 'agent' ? `; HAProxy's maxconn for app1: ${before?.maxconn}, down to ${Math.min(...during.map((app) => app.maxconn))}, ${last?.maxconn} at the end.` : '.'))
  }
  console.log(`\n${total.ok} requests served, ${total.failed} failed (requests that reached app1 during the blip end in its upstream timeout: 504).`)
  console.log(`Timeline chart: ${SVG_PATH}`)
}

// ---- --priorities: a prefetch spike on top of critical traffic ----
// Each instance: 2 threads, tasks of PRIORITY_TASK_MS, so 2 × 1000 / PRIORITY_TASK_MS requests a second.
const PRIORITY_TASK_MS = 40
const PRIORITY_THREADS = 2

async function mainPriorities () {
  const apps = []
  for (const [index, host] of HOSTS.entries()) {
    const app = await startExampleApp({
      stderr: 'inherit',
      env: { HOST: host, POOL_MAX_THREADS: String(PRIORITY_THREADS), POOL_MAX_QUEUE: '16', TASK_TIMEOUT_MS: '1000', UPSTREAM_AFFECTS_PROBE: '0' }
    })
    stoppers.push(() => app.stop({ killAfterMs: 10000 }))
    apps.push({ ...app, name: `app${index + 1}`, host })
  }
  const haproxy = await startHaproxy({
    binary: haproxyBinary,
    readyTimeout: 15000,
    recipe,
    servedBy: true,
    inter: 500,
    fastinter: 250,
    downinter: 500,
    agentInter: 500,
    rise: 2,
    fall: 2,
    timeoutQueue: 1000,
    priorityClasses: [{ path: '/critical', class: -10 }],
    servers: apps.map((app) => ({ name: app.name, host: app.host, port: app.port, agentPort: app.agentPort }))
  })
  stoppers.unshift(() => haproxy.stop())
  const capacity = apps.length * PRIORITY_THREADS * (1000 / PRIORITY_TASK_MS)
  const spikeFrom = Math.round(SECONDS / 3)
  const spikeTo = Math.round((2 * SECONDS) / 3)
  console.log(`HAProxy ${haproxyBinary} (recipe "${recipe}", /critical served first from its queue) on ${haproxy.url}; ${apps.map((app) => `${app.name} ${app.url}`).join(', ')}`)
  console.log(`Capacity ${capacity} requests/s (${apps.length} instances × ${PRIORITY_THREADS} threads × ${PRIORITY_TASK_MS} ms tasks). Critical: ${0.3 * capacity}/s for ${SECONDS} s; prefetch: ${10 * capacity}/s from ${spikeFrom} s to ${spikeTo} s.\n`)
  for (const path of ['/critical?ms=1', '/prefetch?ms=1']) {
    for (let i = 0; i < 4; i++) await (await fetch(`${haproxy.url}${path}`)).arrayBuffer()
  }

  const started = Date.now()
  const perSecond = []
  const count = (cls) => ({ status }) => {
    const second = Math.floor((Date.now() - started) / 1000)
    perSecond[second] ??= { critical: { ok: 0, all: 0 }, prefetch: { ok: 0, all: 0 } }
    perSecond[second][cls].all++
    if (status === 200) perSecond[second][cls].ok++
  }
  const loadDone = Promise.all([
    openLoopLoad({ url: `${haproxy.url}/critical?ms=${PRIORITY_TASK_MS}`, ratePerS: 0.3 * capacity, durationMs: SECONDS * 1000, maxInFlight: MAX_IN_FLIGHT, maxRequests: MAX_REQUESTS / 10, onResult: count('critical') }),
    sleep(spikeFrom * 1000).then(() => openLoopLoad({ url: `${haproxy.url}/prefetch?ms=${PRIORITY_TASK_MS}`, ratePerS: 10 * capacity, durationMs: (spikeTo - spikeFrom) * 1000, maxInFlight: 2000, maxRequests: MAX_REQUESTS, onResult: count('prefetch') }))
  ])

  // One sample per second: the queues by priority (both instances), HAProxy's queue, busy.
  const timeline = []
  console.log(['  t', 'spike', 'queued 10', 'queued 0', 'hap queue', ...apps.map((app) => `${app.name} busy`)].join(' | '))
  for (let second = 1; second <= SECONDS; second++) {
    await sleep(Math.max(0, started + second * 1000 - Date.now()))
    const [stat, texts] = await Promise.all([
      haproxy.stat(),
      Promise.all(apps.map(async (app) => await (await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(900) })).text().catch(() => '')))
    ])
    const queued = (priority) => texts.reduce((sum, text) => sum + (metricValue(text, `backpressure_pool_queue_depth_by_priority{priority="${priority}"}`) ?? 0), 0)
    const sample = {
      t: second,
      spike: second > spikeFrom && second <= spikeTo,
      queued10: queued(10),
      queued0: queued(0),
      haproxyQueue: Number(stat.find((row) => row.pxname === 'be_app' && row.svname === 'BACKEND')?.qcur ?? 0),
      busy: texts.map((text) => metricValue(text, 'backpressure_pool_busy') ?? NaN)
    }
    timeline.push(sample)
    console.log([String(second).padStart(3), sample.spike ? 'SPIKE' : '     ', String(sample.queued10).padStart(9), String(sample.queued0).padStart(8), String(sample.haproxyQueue).padStart(9),
      ...sample.busy.map((busy, index) => (busy === 1 ? 'BUSY' : 'free').padStart(apps[index].name.length + 5))].join(' | '))
  }
  await loadDone

  const share = (cls) => perSecond.slice(0, SECONDS).map((counts, second) => [second + 0.5, counts === undefined || counts[cls].all === 0 ? NaN : (100 * counts[cls].ok) / counts[cls].all])
  const svg = chart({
    title: `Two instances behind HAProxy (recipe "${recipe}"): critical traffic and a prefetch spike ×10`,
    xLabel: 'seconds',
    xMin: 0,
    xMax: SECONDS,
    bands: [{ from: spikeFrom, to: spikeTo, label: `prefetch spike: ${10 * capacity} requests/s` }],
    panels: [
      { title: 'Share of requests answered 200, by second sent', yLabel: '% 200', yMin: 0, yMax: 105, series: [{ name: 'critical (10)', color: '#2ca02c', points: share('critical') }, { name: 'prefetch (0)', color: '#ff7f0e', dashed: true, points: share('prefetch') }] },
      { title: 'Waiting: the apps\' pools by priority (both instances), and HAProxy\'s queue', yLabel: 'requests', series: [{ name: 'apps, priority 10', color: '#2ca02c', points: timeline.map((s) => [s.t, s.queued10]) }, { name: 'apps, priority 0', color: '#ff7f0e', points: timeline.map((s) => [s.t, s.queued0]) }, { name: 'HAProxy queue', dashed: true, color: '#555', points: timeline.map((s) => [s.t, s.haproxyQueue]) }] },
      { title: 'Busy (queued > idle threads): priorities do not change it', yLabel: 'busy', yMin: -0.1, yMax: 1.1, yTicks: [[0, 'free'], [1, 'busy']], series: apps.map((app, index) => ({ name: app.name, step: true, points: timeline.map((s) => [s.t, s.busy[index]]) })) }
    ]
  })
  mkdirSync(dirname(SVG_PATH), { recursive: true })
  writeFileSync(SVG_PATH, svg)
  const total = (cls) => perSecond.reduce((sum, counts) => ({ ok: sum.ok + (counts?.[cls].ok ?? 0), all: sum.all + (counts?.[cls].all ?? 0) }), { ok: 0, all: 0 })
  for (const cls of ['critical', 'prefetch']) {
    const { ok, all } = total(cls)
    console.log(`${cls}: ${ok} of ${all} answered 200 (${((100 * ok) / Math.max(1, all)).toFixed(1)}%)`)
  }
  console.log(`Timeline chart: ${SVG_PATH}`)
}

let exitCode = 0
try {
  if (PRIORITIES) await mainPriorities()
  else await main()
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  await cleanup()
}
process.exit(exitCode)
