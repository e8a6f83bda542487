#!/usr/bin/env node
// Soak: drives 2–3× the pool's capacity against the example app over real HTTP for a bounded time,
// then reports memory (RSS, heap) at start/after warm-up/end, accepted-request latency, the count of
// each answer and the server's event-loop delay, and checks two claims of issue 4:
//   - memory stays flat: RSS and heap at the end within ±15% of their value after warm-up;
//   - accepted-request p99 stays bounded by about maxQueue × task time / threads (+ the task itself).
//
//   npm run soak                         # 60 s, the full run (builds nothing: run `npm run build` first)
//   node scripts/soak.mjs --duration 6 --short    # what test/soak.test.ts runs, with looser bounds
//
// Load is open-loop: requests arrive at `load` × the pool's throughput (threads / task time), e.g.
// 2.5 × 100/s = 250 req/s, whatever the answers, as real clients would; in-flight requests are capped.
// Options: --duration <s> (60), --threads <n> (2), --max-queue <n> (16), --task-ms <n> (20),
// --load <factor> (2.5), --short (looser bounds),
// --json (print only the report line). Last line of output: `SOAK_REPORT {json}`; exit code 1 if a
// check failed. Every process it starts it stops by PID; nothing but 127.0.0.1 is used.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    threads: { type: 'string', default: '2' },
    'max-queue': { type: 'string', default: '16' },
    'task-ms': { type: 'string', default: '20' },
    load: { type: 'string', default: '2.5' },
    short: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }
})

const DURATION_MS = Number(values.duration) * 1000
const THREADS = Number(values.threads)
const MAX_QUEUE = Number(values['max-queue'])
const TASK_MS = Number(values['task-ms'])
const LOAD = Number(values.load)
const SHORT = values.short
const CAPACITY_PER_S = THREADS * 1000 / TASK_MS
const RATE_PER_S = LOAD * CAPACITY_PER_S
const MAX_IN_FLIGHT = 1000
const TICK_MS = 10
const WARMUP_MS = Math.max(2000, DURATION_MS * 0.2)
const SAMPLE_EVERY_MS = 1000
const REQUEST_TIMEOUT_MS = 10_000
// Memory: ±15% (issue 4). The short run has only a 2 s warm-up on a shared 2-core machine: ±35%.
const MEMORY_TOLERANCE = SHORT ? 0.35 : 0.15
const HEAP_TOLERANCE = MEMORY_TOLERANCE
// An accepted request waits for at most maxQueue tasks spread over `threads`, then runs its own.
const P99_BOUND_MS = (MAX_QUEUE / THREADS + 1) * TASK_MS
// Allowance for HTTP, scheduling and the load generator sharing the 2 cores with the server.
const P99_LIMIT_MS = P99_BOUND_MS * (SHORT ? 3 : 1.5) + 50

const SERVER = fileURLToPath(new URL('../example-app/server.mjs', import.meta.url))
const PROBE = fileURLToPath(new URL('./soak-probe.mjs', import.meta.url))

const log = values.json ? () => {} : (line) => { process.stdout.write(`${line}\n`) }

function startApp () {
  // LOG_LEVEL fatal: every 503 is an error-level log line in Fastify; at hundreds per second the soak
  // would measure pino and the pipe, not the pool.
  const env = { ...process.env, HOST: '127.0.0.1', PORT: '0', AGENT_PORT: 'off', LOG_LEVEL: 'fatal', POOL_MAX_THREADS: String(THREADS), POOL_MAX_QUEUE: String(MAX_QUEUE), TASK_TIMEOUT_MS: '5000' }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, ['--expose-gc', '--import', PROBE, SERVER], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  let output = ''
  const exited = new Promise((resolve) => { child.once('exit', (code, signal) => { resolve({ code, signal }) }) })
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`example app not ready after 30 s:\n${output}`)) }, 30_000)
    child.stdout.on('data', (chunk) => {
      if (output.length > 64 * 1024) return // only the start matters (the READY line)
      output += chunk
      const line = output.split('\n').find((l) => l.startsWith('BACKPRESSURE_READY '))
      if (line !== undefined) {
        clearTimeout(timer)
        resolve(JSON.parse(line.slice('BACKPRESSURE_READY '.length)))
      }
    })
    child.stderr.on('data', (chunk) => { if (output.length < 64 * 1024) output += chunk })
    exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`example app exited (${code ?? signal}) before ready:\n${output}`)) })
  })
  let nextId = 0
  const pending = new Map()
  child.on('message', (message) => { pending.get(message.id)?.(message); pending.delete(message.id) })
  const stats = () => new Promise((resolve) => {
    const id = ++nextId
    pending.set(id, resolve)
    child.send({ type: 'soak-stats', id })
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGTERM')
      const killer = setTimeout(() => { process.kill(child.pid, 'SIGKILL') }, 15_000)
      await exited
      clearTimeout(killer)
    }
  }
  return { child, ready, stats, stop, exited }
}

/** RSS as the kernel sees it (VmRSS), cross-checking the app's own figure. */
function kernelRss (pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? null : Number(match[1]) * 1024
}

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

const round = (n) => n === null ? null : Math.round(n * 10) / 10
const mb = (bytes) => round(bytes / 1024 / 1024)

async function main () {
  const app = startApp()
  const stopOnSignal = () => { app.stop().finally(() => process.exit(130)) }
  process.once('SIGINT', stopOnSignal)
  process.once('SIGTERM', stopOnSignal)
  let report
  try {
    const { url, pid } = await app.ready
    log(`soak: ${url} (pid ${pid}), ${THREADS} threads, maxQueue ${MAX_QUEUE}, task ${TASK_MS} ms, ${RATE_PER_S} req/s (${LOAD}× the pool's ${CAPACITY_PER_S}/s), ${DURATION_MS / 1000} s`)
    const { hostname, port } = new URL(url)
    const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT })
    const path = `/block?ms=${TASK_MS}`
    const counts = {}
    const accepted = []
    const samples = []
    let sent = 0
    const started = performance.now()
    const deadline = started + DURATION_MS

    const sample = async () => {
      const s = await app.stats()
      samples.push({ atMs: Math.round(performance.now() - started), rss: s.rss, kernelRss: kernelRss(pid), heapUsed: s.heapUsed, loopDelayMs: s.loopDelayMs })
    }
    await sample()
    const sampler = setInterval(() => { void sample() }, SAMPLE_EVERY_MS)

    let inFlight = 0
    let skipped = 0
    const once = () => new Promise((resolve) => {
      const t0 = performance.now()
      sent++
      inFlight++
      const req = request({ host: hostname, port, path, agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        res.resume()
        res.on('end', () => {
          const status = String(res.statusCode)
          counts[status] = (counts[status] ?? 0) + 1
          if (res.statusCode === 200) accepted.push(performance.now() - t0)
          inFlight--
          resolve()
        })
      })
      req.on('timeout', () => { req.destroy(new Error('timeout')) })
      req.on('error', (error) => {
        const key = `error:${error.message}`
        counts[key] = (counts[key] ?? 0) + 1
        inFlight--
        resolve()
      })
      req.end()
    })
    // Open loop: every tick, send what the rate owes since the start (bounded by MAX_IN_FLIGHT).
    const all = []
    await new Promise((resolve) => {
      const ticker = setInterval(() => {
        const now = performance.now()
        if (now >= deadline) { clearInterval(ticker); resolve(); return }
        const owed = Math.floor(((now - started) / 1000) * RATE_PER_S) - sent - skipped
        for (let i = 0; i < owed; i++) {
          if (inFlight >= MAX_IN_FLIGHT) skipped++
          else all.push(once())
        }
      }, TICK_MS)
    })
    await Promise.all(all)
    clearInterval(sampler)
    await sample()
    agent.destroy()
    const elapsedMs = performance.now() - started

    accepted.sort((a, b) => a - b)
    const afterWarmup = samples.find((s) => s.atMs >= WARMUP_MS) ?? samples[0]
    const start = samples[0]
    const end = samples[samples.length - 1]
    const measured = samples.filter((s) => s.atMs >= WARMUP_MS)
    const loop = measured.map((s) => s.loopDelayMs)
    const rssChange = (end.rss - afterWarmup.rss) / afterWarmup.rss
    // heapUsed is sampled right after a full GC (soak-probe.mjs): the live heap.
    const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
    const heapChange = (end.heapUsed - afterWarmup.heapUsed) / afterWarmup.heapUsed
    const p99 = percentile(accepted, 99)
    const checks = {
      rssFlat: Math.abs(rssChange) <= MEMORY_TOLERANCE,
      heapFlat: Math.abs(heapChange) <= HEAP_TOLERANCE,
      p99Bounded: p99 !== null && p99 <= P99_LIMIT_MS,
      someAccepted: accepted.length > 0,
      someShed: (counts['503'] ?? 0) > 0,
      noErrors: Object.keys(counts).every((k) => k === '200' || k === '503'),
      loadHeld: skipped === 0
    }
    report = {
      ok: Object.values(checks).every(Boolean),
      checks,
      config: { durationS: DURATION_MS / 1000, threads: THREADS, maxQueue: MAX_QUEUE, taskMs: TASK_MS, ratePerS: RATE_PER_S, capacityPerS: CAPACITY_PER_S, warmupS: WARMUP_MS / 1000, short: SHORT },
      requests: { sent, skippedAtInFlightCap: skipped, perSecond: round(sent / (elapsedMs / 1000)), answers: counts, acceptedPerSecond: round(accepted.length / (elapsedMs / 1000)) },
      latencyMs: { p50: round(percentile(accepted, 50)), p90: round(percentile(accepted, 90)), p99: round(p99), max: round(accepted[accepted.length - 1] ?? null), p99LimitMs: P99_LIMIT_MS, p99BoundMs: P99_BOUND_MS },
      memoryMB: {
        rss: { start: mb(start.rss), afterWarmup: mb(afterWarmup.rss), end: mb(end.rss), changePct: round(rssChange * 100) },
        kernelRss: { start: mb(start.kernelRss ?? 0), end: mb(end.kernelRss ?? 0) },
        heapUsed: { start: mb(start.heapUsed), afterWarmup: mb(afterWarmup.heapUsed), end: mb(end.heapUsed), changePct: round(heapChange * 100), afterFullGc: true },
        tolerancePct: { rss: MEMORY_TOLERANCE * 100, heap: HEAP_TOLERANCE * 100 }
      },
      eventLoopDelayMs: { p50: round(median(loop.map((l) => l.p50))), p99: round(Math.max(...loop.map((l) => l.p99))), max: round(Math.max(...loop.map((l) => l.max))) }
    }
    log(`answers: ${JSON.stringify(counts)} (${report.requests.perSecond} req/s, ${report.requests.acceptedPerSecond} accepted/s)`)
    log(`accepted latency: p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms (limit ${P99_LIMIT_MS} ms; maxQueue × task / threads + task = ${P99_BOUND_MS} ms)`)
    log(`RSS: start ${report.memoryMB.rss.start} MB, after warm-up ${report.memoryMB.rss.afterWarmup} MB, end ${report.memoryMB.rss.end} MB (${report.memoryMB.rss.changePct}%)`)
    log(`heap used: start ${report.memoryMB.heapUsed.start} MB, after warm-up ${report.memoryMB.heapUsed.afterWarmup} MB, end ${report.memoryMB.heapUsed.end} MB (${report.memoryMB.heapUsed.changePct}%, live heap after a full GC)`)
    log(`server event-loop delay: p50 ${report.eventLoopDelayMs.p50} ms, p99 ${report.eventLoopDelayMs.p99} ms, max ${report.eventLoopDelayMs.max} ms`)
    log(`checks: ${Object.entries(checks).map(([k, v]) => `${k} ${v ? 'ok' : 'FAILED'}`).join(', ')}`)
  } finally {
    await app.stop()
  }
  process.stdout.write(`SOAK_REPORT ${JSON.stringify(report)}\n`)
  process.exitCode = report.ok ? 0 : 1
}

main().catch((error) => {
  process.stderr.write(`soak failed: ${error.stack ?? error}\n`)
  process.exitCode = 1
})
