#!/usr/bin/env node
// fastify-backpressure benchmarks: B1–B11, each against a baseline measured in the same
// run, with the target beside each figure.
//
//   npm run bench              full run, about 10 minutes; writes bench/results/latest.json,
//                              bench/results/latest.md, docs/images/bench-b3.svg and bench-b11.svg
//   npm run bench -- --quick   smoke run, about a minute; writes bench/results/quick.json,
//                              bench/results/quick.md and bench/results/quick-b3.svg, quick-b11.svg
//   --only B1,B3               run some of them (B1 and B2 share their servers, as do B3 and B4)
//   --rounds N                 rounds for B1–B4 and B11 (default: 3; --quick: 3 for B1/B2, 1 for B3/B4, B11)
//                              (--only and --rounds write bench/results/partial.* instead of latest.*)
//
// Servers and the load generator (autocannon's API, bench/fixtures/load.mjs) run as separate
// child processes on 127.0.0.1, on ports the OS picks. Every child is stopped by PID, also on
// error. Loads are bounded in time. Each figure is the median of alternating runs (A, B, A, B, …)
// and is given as a ratio to the baseline of the same round.
//
// The package is loaded by its own name, i.e. from dist/: run `npm run build` first.
import { request } from 'node:http'
import { mkdirSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { cpus, loadavg, totalmem, platform, release } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runToResult, startServer, startService } from './lib/children.mjs'
import { median, pairedRatios, slope } from './lib/stats.mjs'
import { renderTable, renderMarkdown } from './lib/report.mjs'
import { writeB3Chart } from './lib/b3-chart.mjs'
import { benchProbeCost } from './probe-cost.mjs'
import { benchPriorities, priorityRows, writePriorityChart } from './lib/priorities.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const fixture = (name) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const SERVER = fixture('server.mjs')
const LOAD = fixture('load.mjs')

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' }
  }
})
const QUICK = args.quick
const ONLY = args.only === undefined ? null : new Set(args.only.toUpperCase().split(','))
const ROUNDS = args.rounds === undefined ? null : Number(args.rounds)
if (ROUNDS !== null && !(Number.isInteger(ROUNDS) && ROUNDS >= 1)) throw new Error(`--rounds needs a positive integer, got ${args.rounds}`)
const wants = (...ids) => ONLY === null || ids.some((id) => ONLY.has(id))

// Worker threads in every pool (bench/fixtures/*.mjs use the same number).
const THREADS = 2
// Saturation tasks hold a thread this long. Short on purpose: through-the-pool latency grows with
// it, so 2 ms is the least flattering setting for the comparison in B4.
const TASK_MS = 2
const DEPTHS = [0, 10, 100, 1000]

const PLAN = QUICK
  ? {
      mode: 'quick',
      rounds: 3,
      warmupSeconds: 0.3,
      throughputSeconds: 1,
      latencyRounds: 1,
      latencySeconds: 1,
      kinds: { block: ['hook', 'status', 'pool'], burn: ['hook'] },
      b5: { rounds: 4, tasks: 5000, window: 256 },
      b6: { samples: 100, observeMs: 2200 },
      b7: { rounds: 1, durationMs: 2500, taskMs: 10, overload: 10 },
      b8: { rounds: 4, tasks: 50000, window: 256, concurrency: 16 },
      b9: { rounds: 1, durationMs: 4500, rate: 200, fixed: [4, 16, 64] },
      b11: { rounds: 1, seconds: 6, calibrateSeconds: 2 }
    }
  : {
      mode: 'full',
      rounds: 3,
      warmupSeconds: 1,
      throughputSeconds: 5,
      latencyRounds: 3,
      latencySeconds: 5,
      kinds: { block: ['hook', 'status', 'pool'], burn: ['hook', 'status'] },
      b5: { rounds: 12, tasks: 10000, window: 256 },
      b6: { samples: 1000, observeMs: 3000 },
      b7: { rounds: 3, durationMs: 6000, taskMs: 10, overload: 10 },
      b8: { rounds: 12, tasks: 200000, window: 256, concurrency: 16 },
      b9: { rounds: 3, durationMs: 9000, rate: 200, fixed: [4, 16, 64] },
      b11: { rounds: 3, seconds: 15, calibrateSeconds: 4 }
    }

if (ROUNDS !== null) {
  Object.assign(PLAN, { rounds: ROUNDS, latencyRounds: ROUNDS })
  PLAN.b11 = { ...PLAN.b11, rounds: ROUNDS }
}

// Latency runs: a steady probe rate over a few keep-alive connections, like a few balancers.
const LATENCY_LOAD = { connections: 4, overallRate: 1000 }
// Throughput runs: autocannon's defaults (10 connections, no pipelining: HAProxy never pipelines).
const THROUGHPUT_LOAD = { connections: 10 }

const APPROACHES = {
  hook: { label: 'httpchk hook (OPTIONS /)', method: 'OPTIONS', path: '/' },
  status: { label: 'under-pressure status route (GET /status)', method: 'GET', path: '/status' },
  pool: { label: 'health route through the pool (GET /pool-health)', method: 'GET', path: '/pool-health' }
}

const STARTED = performance.now()
// Progress goes to stderr; stdout carries only the final table.
const log = (...parts) => console.error(`[bench ${((performance.now() - STARTED) / 1000).toFixed(0).padStart(3)}s]`, ...parts)

// ---- helpers -----------------------------------------------------------------------------------

let loadGenerator = null

function load (url, { method = 'GET', seconds, latency = false, ...shape }) {
  const options = { url, method, duration: seconds, latency, timeout: 10, ...shape }
  return loadGenerator.call('run', { options }, (seconds + 30) * 1000)
}

/** One request; resolves with its status code. */
function statusOf (url, method) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${url}: no answer in 5 s`)))
    req.on('error', reject)
    req.end()
  })
}

async function measureThroughput (server, { method, path }, seconds) {
  const before = await server.call('cpu')
  const result = await load(server.url + path, { method, seconds, ...THROUGHPUT_LOAD })
  const after = await server.call('cpu')
  const cpuMicros = after.cpuMicros - before.cpuMicros
  return {
    requestsPerSecond: result.requestsPerSecond,
    requests: result.requests,
    statusCodes: result.statusCodes,
    errors: result.errors + result.timeouts,
    // The server's own CPU time per answer (all its threads; idle pool threads use none). On two
    // cores the load generator can be the bottleneck, which squeezes req/s ratios towards 1; the
    // CPU per request shows what each server would manage with the CPU to itself.
    serverCpuMicrosPerRequest: cpuMicros / result.requests,
    serverCpuShare: cpuMicros / (result.duration * 1e6),
    generatorCpuShare: result.generatorCpuShare
  }
}

function newestMtime (path) {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))))
}

function distFreshness () {
  try {
    const sources = Math.max(...['index.ts', 'lib', 'plugins'].map((name) => newestMtime(join(ROOT, name))))
    const built = statSync(join(ROOT, 'dist/esm/index.js')).mtimeMs
    return { fresh: built >= sources, builtAt: new Date(built).toISOString(), newestSourceAt: new Date(sources).toISOString() }
  } catch (error) {
    return { fresh: false, error: String(error.message) }
  }
}

function versionOf (name) {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
}

// ---- B1, B2: throughput ---------------------------------------------------------------------------

async function benchThroughput ({ bare, plain, suite }) {
  const probeStatus = await statusOf(`${suite.url}/`, 'OPTIONS')
  const comparisons = {
    B1: {
      baseline: { name: 'bare node:http (the probe\'s 200 answer)', server: bare, method: 'OPTIONS', path: '/' },
      subject: { name: 'suite: httpchk front door (OPTIONS /)', server: suite, method: 'OPTIONS', path: '/' }
    },
    B2: {
      baseline: { name: 'Fastify, no plugins (GET /hello)', server: plain, method: 'GET', path: '/hello' },
      subject: { name: 'Fastify + pool, httpchk, metrics (GET /hello)', server: suite, method: 'GET', path: '/hello' }
    }
  }
  const wanted = Object.entries(comparisons).filter(([id]) => wants(id))
  for (const [, { baseline, subject }] of wanted) {
    for (const side of [baseline, subject]) await load(side.server.url + side.path, { method: side.method, seconds: PLAN.warmupSeconds, ...THROUGHPUT_LOAD })
  }
  const runs = Object.fromEntries(wanted.map(([id]) => [id, { baseline: [], subject: [] }]))
  for (let round = 0; round < PLAN.rounds; round++) {
    for (const [id, sides] of wanted) {
      for (const role of ['baseline', 'subject']) {
        const side = sides[role]
        const run = await measureThroughput(side.server, side, PLAN.throughputSeconds)
        runs[id][role].push(run)
        log(`${id} round ${round + 1} ${side.name}: ${(run.requestsPerSecond / 1000).toFixed(1)}k req/s, ` +
          `${run.serverCpuMicrosPerRequest.toFixed(1)} µs CPU/req, CPU: server ${(run.serverCpuShare * 100).toFixed(0)}%, ` +
            `load generator ${(run.generatorCpuShare * 100).toFixed(0)}%`)
      }
    }
  }
  const out = { probeStatus }
  for (const [id, sides] of wanted) {
    const { baseline, subject } = runs[id]
    out[id] = {
      baseline: sides.baseline.name,
      subject: sides.subject.name,
      runs: runs[id],
      requestsPerSecond: { baseline: median(baseline.map((r) => r.requestsPerSecond)), subject: median(subject.map((r) => r.requestsPerSecond)) },
      cpuMicrosPerRequest: { baseline: median(baseline.map((r) => r.serverCpuMicrosPerRequest)), subject: median(subject.map((r) => r.serverCpuMicrosPerRequest)) },
      throughputRatio: median(pairedRatios(subject.map((r) => r.requestsPerSecond), baseline.map((r) => r.requestsPerSecond))),
      capacityRatio: median(pairedRatios(baseline.map((r) => r.serverCpuMicrosPerRequest), subject.map((r) => r.serverCpuMicrosPerRequest))),
      cpuShare: Object.fromEntries(Object.entries(runs[id]).map(([role, list]) => [role, {
        server: median(list.map((r) => r.serverCpuShare)),
        generator: median(list.map((r) => r.generatorCpuShare))
      }])),
      subjectStatusCodes: subject.map((r) => r.statusCodes)
    }
  }
  return out
}

// ---- B3, B4: probe latency with the pool saturated ---------------------------------------------------

/** Seconds a run needs to see a few answers from a health check that waits behind `depth` tasks. */
function poolRunSeconds (depth) {
  const expectedSeconds = (depth * TASK_MS) / THREADS / 1000
  return Math.max(PLAN.latencySeconds, Math.ceil(expectedSeconds * 2.5 + 0.5))
}

async function benchSaturation (server) {
  const out = { taskMs: TASK_MS, threads: THREADS, depths: DEPTHS, load: LATENCY_LOAD, approaches: APPROACHES, kinds: {} }
  // The first runs against a fresh process are slower (JIT, connection set-up); spend them here.
  for (const approach of Object.keys(APPROACHES)) {
    const { method, path } = APPROACHES[approach]
    await load(server.url + path, { method, seconds: PLAN.warmupSeconds, latency: true, ...LATENCY_LOAD })
  }
  for (const [kind, approaches] of Object.entries(PLAN.kinds)) {
    const runs = Object.fromEntries(approaches.map((approach) => [approach, Object.fromEntries(DEPTHS.map((depth) => [depth, []]))]))
    const probeStatusByDepth = {}
    for (let round = 0; round < PLAN.latencyRounds; round++) {
      // Alternate the direction through the depths and the order of the approaches, so slow
      // drifts in machine load hit every variant alike.
      const depths = round % 2 === 0 ? DEPTHS : [...DEPTHS].reverse()
      const order = approaches.map((_, index) => approaches[(index + round) % approaches.length])
      for (const depth of depths) {
        const saturated = await server.call('saturate', { depth, op: kind, ms: TASK_MS })
        if (!saturated.reached) throw new Error(`could not hold queue depth ${depth}: ${JSON.stringify(saturated.state)}`)
        probeStatusByDepth[depth] = await statusOf(`${server.url}/`, 'OPTIONS')
        for (const approach of order) {
          const { method, path } = APPROACHES[approach]
          const seconds = approach === 'pool' ? poolRunSeconds(depth) : PLAN.latencySeconds
          const result = await load(server.url + path, { method, seconds, latency: true, ...LATENCY_LOAD })
          runs[approach][depth].push({ ...result.latency, statusCodes: result.statusCodes, errors: result.errors + result.timeouts, seconds })
          log(`B3/B4 ${kind} depth ${depth} ${approach}: p50 ${fmtMs(result.latency.p50)} p99 ${fmtMs(result.latency.p99)} ` +
            `(${result.latency.samples} answers, ${JSON.stringify(result.statusCodes)})`)
        }
      }
    }
    await server.call('unsaturate')
    out.kinds[kind] = { runs, probeStatusByDepth, summary: summarizeSaturation(runs) }
  }
  return out
}

function summarizeSaturation (runs) {
  const summary = {}
  for (const [approach, byDepth] of Object.entries(runs)) {
    summary[approach] = {}
    for (const depth of DEPTHS) {
      const list = byDepth[depth]
      summary[approach][depth] = {
        p50: median(list.map((r) => r.p50)),
        p99: median(list.map((r) => r.p99)),
        samples: list.reduce((sum, r) => sum + (r.samples ?? 0), 0),
        statusCodes: mergeCounts(list.map((r) => r.statusCodes)),
        // B3: against depth 0 of the same round.
        p50VsDepth0: median(pairedRatios(list.map((r) => r.p50), byDepth[0].map((r) => r.p50))),
        p99VsDepth0: median(pairedRatios(list.map((r) => r.p99), byDepth[0].map((r) => r.p99)))
      }
      if (approach !== 'hook' && runs.hook !== undefined) {
        // B4: against our hook at the same depth in the same round.
        summary[approach][depth].p50VsHook = median(pairedRatios(list.map((r) => r.p50), runs.hook[depth].map((r) => r.p50)))
        summary[approach][depth].p99VsHook = median(pairedRatios(list.map((r) => r.p99), runs.hook[depth].map((r) => r.p99)))
      }
    }
  }
  return summary
}

function mergeCounts (list) {
  const total = {}
  for (const counts of list) for (const [key, count] of Object.entries(counts ?? {})) total[key] = (total[key] ?? 0) + count
  return total
}

// ---- B5, B6, B7: in-process --------------------------------------------------------------------------

async function benchPoolThroughput () {
  const result = await runToResult(fixture('pool-throughput.mjs'), PLAN.b5, { timeoutMs: 120_000, execArgv: ['--expose-gc'] })
  const raw = result.tasksPerSecond['piscina.run()']
  const ours = result.tasksPerSecond['app.pool.run()']
  const likePool = result.tasksPerSecond["piscina.run(), atomics 'disabled'"]
  return {
    ...result,
    raw: median(raw),
    ours: median(ours),
    ratio: median(pairedRatios(ours, raw)),
    likePool: median(likePool),
    ratioLikePool: median(pairedRatios(ours, likePool))
  }
}

async function benchLaneThroughput () {
  const result = await runToResult(fixture('lane-throughput.mjs'), PLAN.b8, { timeoutMs: 120_000, execArgv: ['--expose-gc'] })
  const pLimit = result.callsPerSecond['p-limit']
  const lane = result.callsPerSecond['lane.run()']
  return { ...result, pLimit: median(pLimit), lane: median(lane), ratio: median(pairedRatios(lane, pLimit)) }
}

async function benchAdaptiveBlip () {
  const result = await runToResult(fixture('adaptive-blip.mjs'), PLAN.b9, { timeoutMs: 300_000 })
  const summary = Object.fromEntries(Object.entries(result.results).map(([name, runs]) => [name, {
    goodput: median(runs.map((r) => r.goodput)),
    p99: median(runs.map((r) => r.p99)),
    meanLimit: median(runs.map((r) => r.meanLimit))
  }]))
  return { ...result, summary }
}

async function benchBusyLatency () {
  return runToResult(fixture('busy-latency.mjs'), PLAN.b6, { timeoutMs: 60_000 })
}

async function benchOverload () {
  const variants = { bounded: 64, unbounded: null }
  const runs = { bounded: [], unbounded: [] }
  for (let round = 0; round < PLAN.b7.rounds; round++) {
    for (const [name, maxQueue] of Object.entries(variants)) {
      const { rounds, ...options } = PLAN.b7
      const result = await runToResult(fixture('overload-rss.mjs'), { ...options, maxQueue }, {
        timeoutMs: PLAN.b7.durationMs + 30_000,
        execArgv: ['--expose-gc']
      })
      runs[name].push(summarizeOverload(result))
      const last = runs[name].at(-1)
      log(`B7 ${name}: RSS +${last.rssGrowthMB.toFixed(1)} MB (second half ${last.secondHalfSlopeMBps.toFixed(2)} MB/s), ` +
        `retained heap +${last.retainedHeapGrowthMB.toFixed(1)} MB, ${last.queuedAtEnd} queued, ${last.refused} refused`)
    }
  }
  const pick = (name, key) => median(runs[name].map((run) => run[key]))
  const summary = {}
  for (const name of Object.keys(variants)) {
    summary[name] = Object.fromEntries(['rssStartMB', 'rssEndMB', 'rssGrowthMB', 'secondHalfSlopeMBps', 'retainedHeapGrowthMB', 'queuedAtEnd', 'refused', 'submitted']
      .map((key) => [key, pick(name, key)]))
  }
  return { maxQueue: variants.bounded, runs, summary }
}

function summarizeOverload (result) {
  const mb = (bytes) => bytes / 2 ** 20
  const { samples } = result
  const half = samples.at(-1).atMs / 2
  return {
    offeredPerSecond: result.offeredPerSecond,
    capacityPerSecond: result.capacityPerSecond,
    submitted: result.submitted,
    refused: result.refused,
    queuedAtEnd: result.queuedAtEnd,
    rssStartMB: mb(samples[0].rssBytes),
    rssEndMB: mb(samples.at(-1).rssBytes),
    rssGrowthMB: mb(samples.at(-1).rssBytes - samples[0].rssBytes),
    secondHalfSlopeMBps: slope(samples.filter((s) => s.atMs >= half).map((s) => [s.atMs / 1000, mb(s.rssBytes)])),
    retainedHeapGrowthMB: mb(result.retainedAfter.heapUsedBytes - result.retainedBefore.heapUsedBytes),
    rssSeries: samples.map((s) => [s.atMs, Math.round(mb(s.rssBytes) * 10) / 10, s.queued])
  }
}

// ---- verdicts ------------------------------------------------------------------------------------

function fmtMs (ms) {
  if (ms === null || ms === undefined) return 'n/a'
  if (ms >= 100) return `${ms.toFixed(0)} ms`
  if (ms >= 1) return `${ms.toFixed(2)} ms`
  return `${(ms * 1000).toFixed(0)} µs`
}
const fmtRatio = (value, digits = 2) => value === null || value === undefined ? 'n/a' : `${value.toFixed(digits)}`
const verdict = (ok) => (ok === null ? 'N/A' : ok ? 'PASS' : 'MISS')
const atLeast = (value, target) => (value === null ? null : value >= target)

/** The table: one row per figure, and notes for what a row can't say. */
function buildRows (results) {
  const rows = []
  const notes = []
  const add = (id, what, measured, target, result) => rows.push({ id, what, measured, target, result })

  const throughput = results.throughput
  if (throughput !== undefined) {
    const probeWorks = throughput.probeStatus === 200
    if (!probeWorks) notes.push(`B1: OPTIONS / answered ${throughput.probeStatus}, not 200: the httpchk probe is not in dist/ (run npm run build), so B1 measures something else.`)
    for (const [id, target, what] of [['B1', 0.95, 'probe vs bare node:http'], ['B2', 0.97, 'route, suite vs no plugins']]) {
      const entry = throughput[id]
      if (entry === undefined) continue
      const valid = id !== 'B1' || probeWorks
      const k = (value) => `${(value / 1000).toFixed(1)}k`
      add(id, `${what}: req/s`, `${fmtRatio(entry.throughputRatio, 3)} (${k(entry.requestsPerSecond.subject)} vs ${k(entry.requestsPerSecond.baseline)})`,
        `≥ ${target}`, valid ? verdict(atLeast(entry.throughputRatio, target)) : 'INVALID')
      add(id, `${what}: capacity (CPU/req)`,
        `${fmtRatio(entry.capacityRatio, 3)} (${entry.cpuMicrosPerRequest.subject.toFixed(1)} vs ${entry.cpuMicrosPerRequest.baseline.toFixed(1)} µs)`,
        `≥ ${target}`, valid ? verdict(atLeast(entry.capacityRatio, target)) : 'INVALID')
      const pct = (share) => `${Math.round(share * 100)}%`
      notes.push(`${id}: CPU used during the runs (median; 100% = one core): server ${pct(entry.cpuShare.baseline.server)} (baseline) / ` +
        `${pct(entry.cpuShare.subject.server)} (subject), load generator ${pct(entry.cpuShare.baseline.generator)} / ${pct(entry.cpuShare.subject.generator)}.`)
    }
  }

  for (const [kind, data] of Object.entries(results.saturation?.kinds ?? {})) {
    const label = kind === 'block' ? 'blocking' : 'CPU-heavy'
    const hook = data.summary.hook
    const probeOk = DEPTHS.every((depth) => data.probeStatusByDepth[depth] === (depth === 0 ? 200 : 503))
    if (!probeOk) notes.push(`B3 (${label}): the probe answered ${JSON.stringify(data.probeStatusByDepth)} by depth; expected 200 at depth 0 and 503 above.`)
    add('B3', `probe, depth 0, ${label}`, `p50 ${fmtMs(hook[0].p50)}, p99 ${fmtMs(hook[0].p99)}`, 'baseline', probeOk ? 'BASE' : 'INVALID')
    for (const depth of DEPTHS.slice(1)) {
      const { p50VsDepth0, p99VsDepth0, p50, p99 } = hook[depth]
      const ok = p50VsDepth0 === null || p99VsDepth0 === null ? null : p50VsDepth0 <= 1.2 && p99VsDepth0 <= 2
      add('B3', `probe, depth ${depth} vs 0, ${label}`,
        `p50 ×${fmtRatio(p50VsDepth0)} (${fmtMs(p50)}), p99 ×${fmtRatio(p99VsDepth0)} (${fmtMs(p99)})`,
        'p50 ≤ ×1.2, p99 ≤ ×2', probeOk ? verdict(ok) : 'INVALID')
    }
    for (const approach of ['status', 'pool']) {
      if (data.summary[approach] === undefined) continue
      const name = approach === 'pool' ? 'through-pool route' : 'under-pressure /status'
      for (const depth of DEPTHS) {
        const entry = data.summary[approach][depth]
        const codes = Object.keys(entry.statusCodes).join('/') || 'none'
        const ratio = (value) => fmtRatio(value, value >= 10 ? 0 : 2)
        add('B4', `${name} vs probe, depth ${depth}, ${label}`,
          `p50 ×${ratio(entry.p50VsHook)} (${fmtMs(entry.p50)}), p99 ×${ratio(entry.p99VsHook)} (${fmtMs(entry.p99)}); ${codes} vs ${data.probeStatusByDepth[depth]}`,
          approach === 'pool' ? 'p50 ≥ ×100' : 'report',
          approach === 'pool' ? verdict(atLeast(entry.p50VsHook, 100)) : 'INFO')
      }
    }
  }
  if (results.saturation !== undefined) {
    notes.push('B4 "a vs b": status codes answered by that route vs by the probe at the same depth (the probe says 503 = busy; under-pressure\'s route says 200 whatever the queue).')
  }

  if (results.poolThroughput !== undefined) {
    const b5 = results.poolThroughput
    add('B5', 'app.pool.run() vs piscina.run(): tasks/s', `${fmtRatio(b5.ratio, 3)} (${(b5.ours / 1000).toFixed(1)}k vs ${(b5.raw / 1000).toFixed(1)}k)`,
      '≥ 0.97', verdict(atLeast(b5.ratio, 0.97)))
    add('B5', "app.pool.run() vs piscina.run() with the pool's atomics ('disabled'): tasks/s",
      `${fmtRatio(b5.ratioLikePool, 3)} (${(b5.ours / 1000).toFixed(1)}k vs ${(b5.likePool / 1000).toFixed(1)}k)`, 'report', 'INFO')
  }
  if (results.laneThroughput !== undefined) {
    const b8 = results.laneThroughput
    add('B8', `lane.run() vs p-limit, concurrency ${b8.concurrency}: calls/s`, `${fmtRatio(b8.ratio, 3)} (${(b8.lane / 1000).toFixed(0)}k vs ${(b8.pLimit / 1000).toFixed(0)}k)`,
      '≥ 1.0', verdict(atLeast(b8.ratio, 1.0)))
  }
  if (results.adaptiveBlip !== undefined) {
    const { summary, rate, durationMs } = results.adaptiveBlip
    const fixedNames = Object.keys(summary).filter((name) => name !== 'adaptive')
    const byGoodput = [...fixedNames].sort((a, b) => summary[b].goodput - summary[a].goodput)
    const describe = (name) => `${summary[name].goodput.toFixed(1)}/s, p99 ${summary[name].p99.toFixed(0)} ms (mean limit ${summary[name].meanLimit.toFixed(1)})`
    add('B9', 'blip: adaptive limit', describe('adaptive'), 'report', 'INFO')
    add('B9', `blip: best fixed (${byGoodput[0]})`, describe(byGoodput[0]), 'report', 'INFO')
    add('B9', `blip: worst fixed (${byGoodput.at(-1)})`, describe(byGoodput.at(-1)), 'report', 'INFO')
    notes.push(`B9: ${rate} calls/s open-loop for ${durationMs / 1000} s into an upstream that serves 8 at once in 10 ms, +1 s during the middle third; 500 ms deadline; goodput = answered calls/s, p99 of answered calls.`)
  }
  if (results.priorities !== undefined) priorityRows(results.priorities, { add, notes, verdict })
  if (results.probeCost !== undefined) {
    const { variants, target, rounds, count, rate } = results.probeCost
    const bare = variants.find(({ id }) => id === 'bare')
    for (const row of variants.filter(({ id }) => id !== 'bare')) {
      const measured = `${fmtRatio(row.ratioToBare, 3)} (${row.cpuMicrosPerProbe.toFixed(1)} vs ${bare.cpuMicrosPerProbe.toFixed(1)} µs)`
      if (row.id === 'suite') add('B10', 'probe on a new connection, bare node:http / suite: CPU per check', measured, `≥ ${target}`, verdict(atLeast(row.ratioToBare, target)))
      else add('B10', `probe on a new connection, bare node:http / ${row.label}: CPU per check`, measured, 'report', 'INFO')
    }
    notes.push(`B10: server CPU per check, one new TCP connection per check (OPTIONS / HTTP/1.0, as HAProxy checks); the four listeners in one process, measured back to back in each round, idle CPU subtracted; median over ${rounds} rounds of the per-round ratio; ${count} checks per listener per round at ${rate}/s.`)
  }
  if (results.busyLatency !== undefined) {
    const { ours, underPressure } = results.busyLatency
    add('B6', 'queued > idle → onBusy', `p50 ${ours.p50Micros.toFixed(1)} µs, p99 ${ours.p99Micros.toFixed(1)} µs, max ${ours.maxMicros.toFixed(1)} µs`,
      '≤ 1 ms (vs 1000 ms)', verdict(ours.p99Micros <= 1000))
    add('B6', 'under-pressure, same condition',
      underPressure.detectedAfterMs === null
        ? `not seen in ${underPressure.observedMs} ms (${underPressure.queuedAtEnd} queued)`
        : `seen after ${underPressure.detectedAfterMs.toFixed(0)} ms`,
      'sampleInterval 1000 ms', 'INFO')
  }
  if (results.overload !== undefined) {
    const { maxQueue, summary: { bounded, unbounded } } = results.overload
    const describe = (s) => `RSS ${s.rssStartMB.toFixed(0)}→${s.rssEndMB.toFixed(0)} MB (${s.secondHalfSlopeMBps >= 0 ? '+' : ''}${s.secondHalfSlopeMBps.toFixed(1)} MB/s), ` +
      `heap +${s.retainedHeapGrowthMB.toFixed(1)} MB, ${s.queuedAtEnd} queued`
    const flat = bounded.retainedHeapGrowthMB <= 2 && bounded.queuedAtEnd <= maxQueue
    const growing = unbounded.retainedHeapGrowthMB > 2 && unbounded.secondHalfSlopeMBps > bounded.secondHalfSlopeMBps
    add('B7', `10× overload, maxQueue ${maxQueue}`, describe(bounded), 'flat', verdict(flat))
    add('B7', '10× overload, unbounded queue', describe(unbounded), 'growing', verdict(growing))
    notes.push('B7: MB/s is the RSS slope over the second half of the run; "heap" is the heap still in use after a forced GC, end minus start.')
  }
  return { rows, notes }
}

// ---- main ------------------------------------------------------------------------------------------

const machine = {
  cores: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGB: Math.round(totalmem() / 2 ** 30),
  os: `${platform()} ${release()}`,
  node: process.version,
  versions: Object.fromEntries(['fastify', 'piscina', 'autocannon', '@fastify/under-pressure'].map((name) => [name, versionOf(name)])),
  date: new Date().toISOString(),
  loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100)
}
const dist = distFreshness()
if (!dist.fresh) console.error(`warning: dist/ looks older than the sources (${JSON.stringify(dist)}); run \`npm run build\` first`)
log(`${PLAN.mode} run on ${machine.cores} × ${machine.cpuModel}, Node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`)

const results = {}
// All servers start together (they idle until measured: an idle pool's threads sleep).
const variants = [...(wants('B1', 'B2') ? ['bare', 'plain', 'suite'] : []), ...(wants('B3', 'B4') ? ['saturation'] : [])]
const started = await Promise.allSettled([
  startService(LOAD, [], 'load generator'),
  ...variants.map((variant) => startServer(SERVER, variant))
])
try {
  const failed = started.find(({ status }) => status === 'rejected')
  if (failed !== undefined) throw failed.reason
  const [generator, ...servers] = started.map(({ value }) => value)
  loadGenerator = generator
  const byVariant = Object.fromEntries(servers.map((server) => [server.variant, server]))
  if (wants('B1', 'B2')) results.throughput = await benchThroughput(byVariant)
  if (wants('B3', 'B4')) results.saturation = await benchSaturation(byVariant.saturation)
} finally {
  await Promise.all(started.filter(({ status }) => status === 'fulfilled').map(({ value }) => value.close()))
}
if (wants('B5')) results.poolThroughput = await benchPoolThroughput()
if (wants('B6')) results.busyLatency = await benchBusyLatency()
if (wants('B7')) results.overload = await benchOverload()
if (wants('B8')) results.laneThroughput = await benchLaneThroughput()
if (wants('B9')) results.adaptiveBlip = await benchAdaptiveBlip()
if (wants('B11')) results.priorities = await benchPriorities({ serverFile: SERVER, loadFile: fixture('priority-load.mjs'), ...PLAN.b11, log })
if (wants('B10')) results.probeCost = await benchProbeCost({ ...(QUICK ? { rounds: 4, count: 200, warmup: 200 } : {}), log })

machine.loadAverageAtEnd = loadavg().map((value) => Math.round(value * 100) / 100)
const { rows, notes } = buildRows(results)
const seconds = (performance.now() - STARTED) / 1000
// Only a complete full run replaces latest.* and the README chart.
const prefix = QUICK ? 'quick' : ONLY !== null || ROUNDS !== null ? 'partial' : 'latest'
const resultsDir = join(ROOT, 'bench/results')
mkdirSync(resultsDir, { recursive: true })
const report = { mode: PLAN.mode, machine, dist, plan: PLAN, durationSeconds: Math.round(seconds), rows, notes, results }
writeFileSync(join(resultsDir, `${prefix}.json`), JSON.stringify(report, null, 2) + '\n')
writeFileSync(join(resultsDir, `${prefix}.md`), renderMarkdown(rows, notes, machine, PLAN.mode) + '\n')
if (results.saturation !== undefined) {
  const chartPath = prefix === 'latest' ? join(ROOT, 'docs/images/bench-b3.svg') : join(resultsDir, `${prefix}-b3.svg`)
  mkdirSync(dirname(chartPath), { recursive: true })
  writeB3Chart(chartPath, results.saturation, machine)
  log(`B3 chart: ${chartPath}`)
}
if (results.priorities !== undefined) {
  const chartPath = prefix === 'latest' ? join(ROOT, 'docs/images/bench-b11.svg') : join(resultsDir, `${prefix}-b11.svg`)
  mkdirSync(dirname(chartPath), { recursive: true })
  writePriorityChart(chartPath, results.priorities, machine)
  log(`B11 chart: ${chartPath}`)
}

console.log(renderTable(rows, notes))
console.log(`\n${machine.cores} × ${machine.cpuModel}, Node ${machine.node}, ${machine.date}; ` +
  `load average ${machine.loadAverageAtStart.join(' ')} → ${machine.loadAverageAtEnd.join(' ')}; ${seconds.toFixed(0)} s`)
console.log(`results: bench/results/${prefix}.json, bench/results/${prefix}.md`)
