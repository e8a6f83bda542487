// The demo: `npm run demo` (or `node example-app/demo.mjs [httpchk|disable-on-404|agent]`).
//
// Two example-app instances behind a real HAProxy (the recipe from example-app/haproxy-config.mjs,
// default "agent"), a bounded load through HAProxy, and a blip: app1's upstream turns slow for a few
// seconds. Every second it prints each instance's queue depth, busy state and HAProxy's view, then
// writes the same timeline as an SVG chart (docs/images/demo-timeline.svg, or DEMO_SVG=path).
// Bounded: about 35 s and at most 50000 requests. Every process it starts is stopped by PID.
//
// Env: DEMO_SECONDS (32), DEMO_BLIP_FROM (10), DEMO_BLIP_SECONDS (8), DEMO_RATE (120 requests/s,
// open loop, at most 64 in flight: a steady load below the pools' capacity),
// DEMO_SVG (docs/images/demo-timeline.svg), HAPROXY_PATH (found on PATH or in /usr/sbin otherwise).
import { spawn, execFileSync } from 'node:child_process'
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createConnection, createServer as createTcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { haproxyConfig, RECIPES } from './haproxy-config.mjs'
import { chart } from '../scripts/svg-chart.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SERVER = fileURLToPath(new URL('./server.mjs', import.meta.url))
const recipe = process.argv[2] ?? 'agent'
const SECONDS = Number(process.env.DEMO_SECONDS ?? 32)
const BLIP_FROM = Number(process.env.DEMO_BLIP_FROM ?? 10)
const BLIP_SECONDS = Number(process.env.DEMO_BLIP_SECONDS ?? 8)
const MAX_IN_FLIGHT = 64
const RATE = Number(process.env.DEMO_RATE ?? 120)
const MAX_REQUESTS = 50000
const SVG_PATH = process.env.DEMO_SVG ?? join(ROOT, 'docs/images/demo-timeline.svg')
const UPSTREAM_TIMEOUT_MS = 1000
const BLIP_DELAY_MS = 3000

function findHaproxy () {
  const candidates = [process.env.HAPROXY_PATH, ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'haproxy')), '/usr/sbin/haproxy', '/usr/local/sbin/haproxy']
  return candidates.find((candidate) => {
    if (candidate === undefined || candidate === '' || candidate === 'haproxy') return false
    try { accessSync(candidate, constants.X_OK); return true } catch { return false }
  })
}

if (!RECIPES.includes(recipe)) {
  console.error(`unknown recipe "${recipe}"; use one of ${RECIPES.join(', ')}`)
  process.exit(2)
}
const haproxyBinary = findHaproxy()
if (haproxyBinary === undefined) {
  console.error([
    'The demo needs HAProxy (2.6 or later), which was not found on PATH, in /usr/sbin or /usr/local/sbin.',
    'Install it, then run `npm run demo` again:',
    '  Debian/Ubuntu:  sudo apt-get install -y haproxy',
    '  Fedora/RHEL:    sudo dnf install -y haproxy',
    '  macOS:          brew install haproxy',
    'or point HAPROXY_PATH at the binary.'
  ].join('\n'))
  process.exit(1)
}

// ---- everything started here is stopped in cleanup() ----
const children = new Set()
const servers = []
let workDir
let cleaning

async function cleanup () {
  cleaning ??= (async () => {
    await Promise.all([...children].map((child) => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      const timer = setTimeout(() => { child.kill('SIGKILL') }, 10000)
      child.once('exit', () => { clearTimeout(timer); resolve() })
      process.kill(child.pid, 'SIGTERM')
    })))
    for (const server of servers) { server.closeAllConnections?.(); server.close() }
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { void cleanup().then(() => process.exit(130)) })
}

async function freePort () {
  const server = createTcpServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** An upstream whose delay the demo switches on and off (the blip). */
async function startUpstream (name) {
  const upstream = { delayMs: 5, url: '' }
  const server = createServer((_req, res) => {
    const timer = setTimeout(() => { res.end(JSON.stringify({ from: name })) }, upstream.delayMs)
    res.once('close', () => { clearTimeout(timer) })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.push(server)
  upstream.url = `http://127.0.0.1:${server.address().port}/`
  return upstream
}

function startApp (name, env) {
  const child = spawn(process.execPath, [SERVER], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  return new Promise((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => { reject(new Error(`${name} printed no BACKPRESSURE_READY line within 20 s`)) }, 20000)
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      buffer += chunk
      const line = buffer.split('\n').find((candidate) => candidate.startsWith('BACKPRESSURE_READY '))
      if (line !== undefined && timer.hasRef()) {
        clearTimeout(timer)
        timer.unref()
        resolve({ name, child, ...JSON.parse(line.slice('BACKPRESSURE_READY '.length)) })
      }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited with code ${code} before it was ready`)) })
  })
}

function socketCommand (socketPath, command) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => { socket.end(`${command}\n`) })
    socket.on('data', (chunk) => { answer += chunk })
    socket.on('error', reject)
    socket.on('close', () => { resolve(answer) })
  })
}

async function showStat (socketPath) {
  const [header, ...lines] = (await socketCommand(socketPath, 'show stat')).trim().split('\n')
  const names = header.slice(2).split(',')
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, index) => [names[index], value])))
}

async function metrics (url) {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(900) })).text()
  const read = (name) => Number(text.split('\n').find((line) => line.startsWith(`${name} `))?.split(' ')[1] ?? NaN)
  return { queue: read('backpressure_pool_queue_depth'), busy: read('backpressure_pool_busy') }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function main () {
  workDir = mkdtempSync(join(tmpdir(), 'fbp-demo-'))
  const socketPath = join(workDir, 'admin.sock')
  const upstreams = [await startUpstream('upstream-1'), await startUpstream('upstream-2')]
  const inter = 500
  const fall = 2
  const apps = []
  for (const [index, upstream] of upstreams.entries()) {
    apps.push(await startApp(`app${index + 1}`, {
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      AGENT_PORT: recipe === 'agent' ? String(await freePort()) : 'off',
      POOL_MAX_THREADS: '2',
      POOL_MAX_QUEUE: '16',
      TASK_TIMEOUT_MS: '5000',
      UPSTREAM_URL: upstream.url,
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
      DRAIN_GRACE_MS: String(inter * (fall + 1)),
      ...(recipe === 'disable-on-404' ? { HTTPCHK_METHOD: 'GET', HTTPCHK_URL: '/healthz', HTTPCHK_BUSY_STATUS: '404' } : {})
    }))
  }
  const frontendPort = await freePort()
  const configPath = join(workDir, 'haproxy.cfg')
  writeFileSync(configPath, haproxyConfig({
    recipe,
    frontendPort,
    statsSocket: socketPath,
    servedBy: true,
    inter,
    fastinter: 250,
    downinter: 500,
    agentInter: inter,
    rise: 2,
    fall,
    timeoutQueue: 5000,
    servers: apps.map((app) => ({ name: app.name, port: app.port, agentPort: app.agentPort }))
  }))
  execFileSync(haproxyBinary, ['-c', '-q', '-f', configPath], { stdio: 'inherit' })
  const haproxy = spawn(haproxyBinary, ['-f', configPath, '-db'], { stdio: ['ignore', 'ignore', 'inherit'] })
  children.add(haproxy)

  // Ready: every server exactly UP on the stats socket.
  const readyBy = Date.now() + 15000
  for (;;) {
    const rows = await showStat(socketPath).catch(() => [])
    const own = rows.filter((row) => row.pxname === 'be_app' && row.svname.startsWith('app'))
    if (own.length === apps.length && own.every((row) => row.status === 'UP')) break
    if (Date.now() > readyBy) throw new Error(`HAProxy servers not UP: ${own.map((row) => `${row.svname}=${row.status}`).join(' ')}`)
    await sleep(50)
  }
  console.log(`HAProxy ${haproxyBinary} (recipe "${recipe}") on http://127.0.0.1:${frontendPort}, ${apps.map((app) => `${app.name} ${app.url}`).join(', ')}`)
  console.log(`Load: ${RATE} requests/s (open loop, at most ${MAX_IN_FLIGHT} in flight) on GET /upstream for ${SECONDS} s; blip: app1's upstream answers after ${BLIP_DELAY_MS} ms (worker timeout ${UPSTREAM_TIMEOUT_MS} ms) from ${BLIP_FROM} s to ${BLIP_FROM + BLIP_SECONDS} s.\n`)

  // ---- bounded load through HAProxy ----
  const started = Date.now()
  const perSecond = []
  const bucket = () => {
    const second = Math.floor((Date.now() - started) / 1000)
    perSecond[second] ??= { ok: 0, failed: 0, byServer: {} }
    return perSecond[second]
  }
  let sent = 0
  const endAt = started + SECONDS * 1000
  // Open loop: a request every 1000/RATE ms whatever the answers take (as real users arrive),
  // with at most MAX_IN_FLIGHT outstanding so the load stays bounded.
  const inFlight = new Set()
  async function one () {
    sent++
    try {
      const response = await fetch(`http://127.0.0.1:${frontendPort}/upstream`, { signal: AbortSignal.timeout(10000) })
      await response.arrayBuffer()
      const counts = bucket()
      if (response.ok) {
        counts.ok++
        const server = response.headers.get('x-served-by') ?? '?'
        counts.byServer[server] = (counts.byServer[server] ?? 0) + 1
      } else {
        counts.failed++
      }
    } catch {
      bucket().failed++
    }
  }
  const loadDone = (async () => {
    for (let next = started; next < endAt && sent < MAX_REQUESTS; next += 1000 / RATE) {
      await sleep(Math.max(0, next - Date.now()))
      if (inFlight.size >= MAX_IN_FLIGHT) { bucket().skipped = (bucket().skipped ?? 0) + 1; continue }
      const request = one().finally(() => { inFlight.delete(request) })
      inFlight.add(request)
    }
    await Promise.all(inFlight)
  })()

  // ---- the timeline: one sample per second ----
  const timeline = []
  const header = ['  t', 'blip', ...apps.flatMap((app) => [`${app.name} queue`, 'busy', 'haproxy', 'weight']), 'hap queue', 'ok/s', 'err/s']
  console.log(header.join(' | '))
  for (let second = 1; second <= SECONDS; second++) {
    if (second - 1 === BLIP_FROM) upstreams[0].delayMs = BLIP_DELAY_MS
    if (second - 1 === BLIP_FROM + BLIP_SECONDS) upstreams[0].delayMs = 5
    await sleep(Math.max(0, started + second * 1000 - Date.now()))
    const [stat, ...pools] = await Promise.all([showStat(socketPath), ...apps.map((app) => metrics(app.url).catch(() => ({ queue: NaN, busy: NaN })))])
    const backend = stat.find((row) => row.pxname === 'be_app' && row.svname === 'BACKEND')
    const counts = perSecond[second - 1] ?? { ok: 0, failed: 0, byServer: {} }
    const sample = {
      t: second,
      blip: upstreams[0].delayMs > 5,
      apps: apps.map((app, index) => {
        const row = stat.find((candidate) => candidate.pxname === 'be_app' && candidate.svname === app.name)
        return { name: app.name, queue: pools[index].queue, busy: pools[index].busy, status: row?.status ?? '?', weight: Number(row?.weight ?? 0), served: counts.byServer[app.name] ?? 0 }
      }),
      haproxyQueue: Number(backend?.qcur ?? 0),
      ok: counts.ok,
      failed: counts.failed
    }
    timeline.push(sample)
    console.log([
      String(second).padStart(3),
      sample.blip ? 'BLIP' : '    ',
      ...sample.apps.flatMap((app) => [String(app.queue).padStart(app.name.length + 6), app.busy === 1 ? 'BUSY' : 'free', app.status.padEnd(7), String(app.weight).padStart(6)]),
      String(sample.haproxyQueue).padStart(9),
      String(sample.ok).padStart(4),
      String(sample.failed).padStart(5)
    ].join(' | '))
  }
  await loadDone

  // ---- the chart ----
  const inRotation = (app) => (app.status.startsWith('UP') || app.status.startsWith('DRAIN')) ? app.weight : 0
  const svg = chart({
    title: `Two instances behind HAProxy (recipe "${recipe}"), a blip on app1's upstream`,
    xLabel: 'seconds',
    xMin: 0,
    xMax: SECONDS,
    bands: [{ from: BLIP_FROM, to: BLIP_FROM + BLIP_SECONDS, label: `blip: app1's upstream +${BLIP_DELAY_MS} ms` }],
    panels: [
      { title: 'Pool queue depth (tasks waiting for a thread)', yLabel: 'tasks', series: apps.map((app, index) => ({ name: app.name, points: timeline.map((s) => [s.t, s.apps[index].queue]) })).concat([{ name: 'HAProxy queue', dashed: true, color: '#555', points: timeline.map((s) => [s.t, s.haproxyQueue]) }]) },
      { title: 'Pool busy (queued > idle threads)', yLabel: 'busy', yMin: -0.1, yMax: 1.1, yTicks: [[0, 'free'], [1, 'busy']], series: apps.map((app, index) => ({ name: app.name, step: true, points: timeline.map((s) => [s.t, s.apps[index].busy]) })) },
      { title: 'HAProxy: effective weight (0 = out of rotation; the agent never sends less than 1)', yLabel: 'weight', yMin: 0, yMax: 105, series: apps.map((app, index) => ({ name: app.name, step: true, points: timeline.map((s) => [s.t, inRotation(s.apps[index])]) })) },
      { title: 'Requests per second through HAProxy', yLabel: 'req/s', series: [...apps.map((app, index) => ({ name: `${app.name} ok`, points: timeline.map((s) => [s.t, s.apps[index].served]) })), { name: 'errors', color: '#000', dashed: true, points: timeline.map((s) => [s.t, s.failed]) }] }
    ]
  })
  mkdirSync(dirname(SVG_PATH), { recursive: true })
  writeFileSync(SVG_PATH, svg)
  const total = timeline.reduce((sum, s) => ({ ok: sum.ok + s.ok, failed: sum.failed + s.failed }), { ok: 0, failed: 0 })
  console.log(`\n${total.ok} requests served, ${total.failed} failed (requests that reached app1 during the blip end in its upstream timeout: 504).`)
  console.log(`Timeline chart: ${SVG_PATH}`)
}

let exitCode = 0
try {
  await main()
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  await cleanup()
}
process.exit(exitCode)
