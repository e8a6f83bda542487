// B10, the probe's cost per check as HAProxy checks: server CPU per probe on a new TCP connection
// (`OPTIONS / HTTP/1.0`, no Host header, one connection per check), the suite against bare
// node:http writing the same bytes, measured side by side in one run. Target: bare / suite ≥ 0.95
// (the suite spends at most 5% more CPU per check than Node itself). A raw node:net responder (no
// HTTP parser) and a plain Fastify route answering the same probe are reported beside them.
//
//   node bench/probe-cost.mjs [--rounds 41] [--count 400] [--rate 1000] [--idle 300]
//
// The four listeners live in one child process (bench/fixtures/probe-servers.mjs), so each is
// measured with the same heap, the same modules loaded and the same place on the machine: what
// differs is only what each does per connection. (Measured as separate processes, the figures carry
// whatever else tells one process from another, such as how far its young generation grew while it
// loaded its modules, and on a shared 2-core machine a ±15% drift from one minute to the next.) The
// checks come from another child (bench/fixtures/connect-load.mjs), at a steady rate, never more
// than 4 open at once. A round measures the process idle, then each listener in turn, back to back
// (the order rotates and reverses from round to round): its CPU (process.cpuUsage(), every thread,
// read over IPC) over the window in which it answers `count` checks, less the idle rate over that
// window, divided by `count`. Each ratio is taken within a round; the median over rounds is
// reported. Every child is stopped by PID.
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startService } from './lib/children.mjs'
import { median, pairedRatios } from './lib/stats.mjs'

const SERVERS = fileURLToPath(new URL('./fixtures/probe-servers.mjs', import.meta.url))
const LOAD = fileURLToPath(new URL('./fixtures/connect-load.mjs', import.meta.url))
export const TARGET_RATIO = 0.95
/** The listeners, the baseline first. */
export const VARIANTS = [
  { id: 'bare', label: 'bare node:http, the same bytes' },
  { id: 'suite', label: 'the suite (httpchk front door)' },
  { id: 'net', label: 'raw node:net responder' },
  { id: 'plain', label: 'plain Fastify OPTIONS / route' }
]
/** Checks open at once: a few balancers' worth, never a pile-up. */
const CONCURRENCY = 4

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The server process's CPU (µs, every thread) and the time (µs) over `work()`. */
async function cpuOver (servers, work) {
  const before = await servers.call('cpu')
  await work()
  const after = await servers.call('cpu')
  return { cpuMicros: after.cpuMicros - before.cpuMicros, wallMicros: after.at - before.at }
}

/** `count` checks to one listener; resolves once every one is answered 200. */
async function checks (servers, generator, id, { count, rate }) {
  const port = servers.ports[id]
  const { statuses } = await generator.call('run', { ports: [port], count, rate, concurrency: CONCURRENCY }, 300_000)
  if (statuses[port][200] !== count) throw new Error(`${id}: expected ${count} answers of 200, got ${JSON.stringify(statuses[port])}`)
}

/**
 * Runs `rounds` rounds; returns per listener the CPU per check (the median, and each round's), and
 * the median over rounds of the ratio bare / that listener.
 */
export async function benchProbeCost ({ rounds = 41, count = 400, rate = 1000, idleMs = 300, warmup = 500, log = console.log } = {}) {
  const started = await Promise.allSettled([startService(SERVERS, [], 'probe servers'), startService(LOAD, [], 'connect load')])
  try {
    const failed = started.find(({ status }) => status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const [servers, generator] = started.map(({ value }) => value)
    // JIT and first-connection costs are paid here, not in round 1.
    for (const { id } of VARIANTS) await checks(servers, generator, id, { count: warmup, rate })
    const samples = Object.fromEntries(VARIANTS.map(({ id }) => [id, []]))
    const idleShares = []
    for (let round = 0; round < rounds; round++) {
      const idle = await cpuOver(servers, () => sleep(idleMs))
      const idleRate = idle.cpuMicros / idle.wallMicros
      idleShares.push(idleRate)
      // bare, suite, net, plain; plain, net, suite, bare; suite, net, plain, bare; …
      const rotated = VARIANTS.map((_, index) => VARIANTS[(index + Math.floor(round / 2)) % VARIANTS.length])
      const order = round % 2 === 0 ? rotated : rotated.reverse()
      for (const { id } of order) {
        const window = await cpuOver(servers, () => checks(servers, generator, id, { count, rate }))
        samples[id].push((window.cpuMicros - idleRate * window.wallMicros) / count)
      }
      log(`[B10] round ${round + 1}/${rounds}: ` + VARIANTS.map(({ id }) => `${id} ${samples[id].at(-1).toFixed(1)} µs`).join(', ') +
        `; bare/suite ${(samples.bare.at(-1) / samples.suite.at(-1)).toFixed(3)}`)
    }
    return {
      rounds,
      count,
      rate,
      idleMs,
      concurrency: CONCURRENCY,
      target: TARGET_RATIO,
      idleCpuShare: median(idleShares),
      variants: VARIANTS.map(({ id, label }) => ({
        id,
        label,
        cpuMicrosPerProbe: median(samples[id]),
        // bare / this: 1 is the CPU per check of bare node:http; below 1, more than it.
        ratioToBare: median(pairedRatios(samples.bare, samples[id])),
        samples: samples[id]
      }))
    }
  } finally {
    await Promise.all(started.filter(({ status }) => status === 'fulfilled').map(({ value }) => value.close('close')))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const options = { rounds: { type: 'string', default: '41' }, count: { type: 'string', default: '400' }, rate: { type: 'string', default: '1000' }, idle: { type: 'string', default: '300' } }
  const { values } = parseArgs({ options })
  const result = await benchProbeCost({ rounds: Number(values.rounds), count: Number(values.count), rate: Number(values.rate), idleMs: Number(values.idle) })
  console.log(`\nB10 CPU per check on a new TCP connection: median of ${result.rounds} rounds of ${result.count} checks per listener at ${result.rate}/s, ` +
    `idle CPU (${(result.idleCpuShare * 100).toFixed(2)}% of a core) subtracted`)
  for (const row of result.variants) {
    console.log(`  ${row.label.padEnd(34)} ${row.cpuMicrosPerProbe.toFixed(1).padStart(6)} µs   bare/this ${row.ratioToBare.toFixed(3)}`)
  }
  const suite = result.variants.find(({ id }) => id === 'suite')
  console.log(`  target bare/suite ≥ ${TARGET_RATIO}: ${suite.ratioToBare >= TARGET_RATIO ? 'PASS' : 'MISS'}`)
}
