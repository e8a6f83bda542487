// B11: a prefetch spike on top of critical traffic, with priorities and with every priority equal,
// on the pool and on a lane. Two servers (bench/fixtures/server.mjs, variant `priorities`, `on` and
// `off`) idle side by side until measured; the load comes from bench/fixtures/priority-load.mjs, a
// lean open-loop client in a process of its own.
//
// Per executor: first the capacity is measured on this machine (critical requests alone, open loop
// at 3 × the nominal capacity, answers per second once the queue is full); then rounds alternate
// `on` and `off` (on, off; off, on; …). Each round sends critical requests at 30% of the capacity
// for the whole run and prefetch requests at 10 × the capacity during its middle third. Per round:
// the share of critical requests answered 200, and the ratio of the critical p99 (200s) during the
// spike to the p99 before it. Reported: availability pooled over the rounds of a mode, the median
// ratio, and per second the share of 200s of each class (the chart).
import { writeFileSync } from 'node:fs'
import { chart } from '../../scripts/svg-chart.mjs'
import { Latencies } from '../../tools/percentiles.mjs'
import { startService } from './children.mjs'
import { median } from './stats.mjs'

const CRITICAL_SHARE = 0.3
const SPIKE_FACTOR = 10
/** Calls per second the executors can run, from their configuration (bench/fixtures/server.mjs):
 * 2 threads or 4 slots, 20 ms each. The calibration measures what this machine really does. */
const NOMINAL = { pool: 2 * 1000 / 20, lane: 4 * 1000 / 20 }
export const EXECUTORS = ['pool', 'lane']
export const MODES = ['on', 'off']

/**
 * @param {{ serverFile: string, loadFile: string, rounds: number, seconds: number, calibrateSeconds: number, log: (...parts: unknown[]) => void }} options
 */
export async function benchPriorities ({ serverFile, loadFile, rounds, seconds, calibrateSeconds, log }) {
  const started = await Promise.allSettled([
    startService(loadFile, [], 'B11 load generator'),
    ...MODES.map((mode) => startService(serverFile, ['priorities', mode], `B11 server (priorities ${mode})`))
  ])
  try {
    const failed = started.find(({ status }) => status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const [load, ...servers] = started.map(({ value }) => value)
    const base = Object.fromEntries(MODES.map((mode, index) => [mode, `http://127.0.0.1:${servers[index].port}`]))
    const serverOf = Object.fromEntries(MODES.map((mode, index) => [mode, servers[index]]))
    const durationMs = seconds * 1000
    const out = { seconds, rounds, criticalShare: CRITICAL_SHARE, spikeFactor: SPIKE_FACTOR, executors: {} }
    for (const executor of EXECUTORS) {
      const capacity = await calibrate(load, base, executor, calibrateSeconds)
      const criticalRate = Math.max(1, Math.round(capacity * CRITICAL_SHARE))
      const spikeRate = Math.round(capacity * SPIKE_FACTOR)
      log(`B11 ${executor}: capacity ${capacity.toFixed(0)}/s (nominal ${NOMINAL[executor]}/s); critical ${criticalRate}/s, spike ${spikeRate}/s`)
      const runs = { on: [], off: [] }
      for (let round = 0; round < rounds; round++) {
        for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
          const before = await serverOf[mode].call('figures')
          const result = await load.call('run', {
            base: base[mode],
            critical: { path: `/${executor}/critical`, rate: criticalRate },
            prefetch: { path: `/${executor}/prefetch`, rate: spikeRate, from: durationMs / 3, to: (2 * durationMs) / 3 },
            durationMs
          }, durationMs + 60_000)
          const after = await serverOf[mode].call('figures')
          const run = summarize(result, durationMs, before[executor].stats, after[executor].stats)
          // What the server's main thread had: its process's CPU (every thread; the pool's tasks
          // sleep in Atomics.wait) and its event loop's utilisation, over the run.
          run.serverCpuShare = (after.cpuMicros - before.cpuMicros) / ((after.at - before.at) * 1000)
          run.serverElu = (after.elu.active - before.elu.active) / (after.elu.idle + after.elu.active - before.elu.idle - before.elu.active)
          runs[mode].push(run)
          log(`B11 ${executor} round ${round + 1} priorities ${mode}: critical ${pct(run.critical.ok / run.critical.sent)} ` +
            `(${run.critical.ok}/${run.critical.sent}, ${JSON.stringify(run.critical.statuses)}), p99 ${fmt(run.critical.p99Before)} → ${fmt(run.critical.p99Spike)} (×${run.critical.p99Ratio?.toFixed(2) ?? 'n/a'}); ` +
            `prefetch ${pct(run.prefetch.ok / run.prefetch.sent)} of ${run.prefetch.sent}; displaced ${run.server.displaced}, refused ${run.server.rejected}, ` +
            `timed out ${run.server.timedOut}; server CPU ${pct(run.serverCpuShare)}, event loop ${pct(run.serverElu)} busy; client CPU ${pct(result.clientCpuShare)}`)
        }
      }
      out.executors[executor] = { capacity, criticalRate, spikeRate, runs, summary: Object.fromEntries(MODES.map((mode) => [mode, pool(runs[mode], seconds)])) }
    }
    return out
  } finally {
    await Promise.all(started.filter(({ status }) => status === 'fulfilled').map(({ value }) => value.close('close')))
  }
}

/** Answers per second once the queue is full: critical requests alone at 3 × the nominal capacity. */
async function calibrate (load, base, executor, seconds) {
  const durationMs = seconds * 1000
  const warmupMs = Math.min(1000, durationMs / 3)
  // Both servers warm up alike; the `off` one is measured (every route has the same priority there).
  for (const mode of ['on', 'off']) {
    const result = await load.call('run', {
      base: base[mode],
      critical: { path: `/${executor}/critical`, rate: 3 * NOMINAL[executor] },
      prefetch: { path: `/${executor}/prefetch`, rate: 0, from: 0, to: 0 },
      durationMs
    }, durationMs + 60_000)
    if (mode === 'on') continue
    // Answers that came back after the warm-up and before the load stopped.
    const served = result.records.critical.filter(([sentAt, status, ms]) => status === 200 && sentAt + ms >= warmupMs && sentAt + ms < durationMs).length
    return served / ((durationMs - warmupMs) / 1000)
  }
}

function summarize (result, durationMs, statsBefore, statsAfter) {
  const third = durationMs / 3
  const byClass = (records) => {
    const before = new Latencies()
    const spike = new Latencies()
    let ok = 0
    const perSecond = []
    for (const [sentAt, status, ms] of records) {
      const second = Math.floor(sentAt / 1000)
      perSecond[second] ??= { ok: 0, sent: 0 }
      perSecond[second].sent++
      if (status !== 200) continue
      ok++
      perSecond[second].ok++
      if (sentAt < third) before.record(ms)
      else if (sentAt < 2 * third) spike.record(ms)
    }
    const p99Before = before.percentile(99)
    const p99Spike = spike.percentile(99)
    return {
      sent: records.length,
      ok,
      statuses: countStatuses(records),
      p99Before,
      p99Spike,
      p99Ratio: p99Before === null || p99Spike === null ? null : p99Spike / p99Before,
      perSecond: Array.from(perSecond, (bucket) => bucket ?? { ok: 0, sent: 0 })
    }
  }
  const delta = (key) => statsAfter[key] - statsBefore[key]
  return {
    critical: byClass(result.records.critical),
    prefetch: byClass(result.records.prefetch),
    skipped: result.skipped,
    clientCpuShare: result.clientCpuShare,
    server: { completed: delta('completed'), rejected: delta('rejected'), displaced: delta('displaced'), shed: delta('shed'), timedOut: delta('timedOut') }
  }
}

function countStatuses (records) {
  const counts = {}
  for (const [, status] of records) counts[status] = (counts[status] ?? 0) + 1
  return counts
}

/** One mode's rounds together: availability pooled, the median p99 ratio, per-second shares. */
function pool (runs, seconds) {
  const sum = (cls, key) => runs.reduce((total, run) => total + run[cls][key], 0)
  const perSecond = (cls) => Array.from({ length: seconds }, (_, second) => {
    const ok = runs.reduce((total, run) => total + (run[cls].perSecond[second]?.ok ?? 0), 0)
    const sent = runs.reduce((total, run) => total + (run[cls].perSecond[second]?.sent ?? 0), 0)
    return sent === 0 ? null : ok / sent
  })
  return {
    critical: {
      availability: sum('critical', 'ok') / sum('critical', 'sent'),
      ok: sum('critical', 'ok'),
      sent: sum('critical', 'sent'),
      p99Ratio: median(runs.map((run) => run.critical.p99Ratio).filter((ratio) => ratio !== null)),
      p99Before: median(runs.map((run) => run.critical.p99Before).filter((ms) => ms !== null)),
      p99Spike: median(runs.map((run) => run.critical.p99Spike).filter((ms) => ms !== null)),
      perSecond: perSecond('critical')
    },
    prefetch: {
      availability: sum('prefetch', 'ok') / sum('prefetch', 'sent'),
      ok: sum('prefetch', 'ok'),
      sent: sum('prefetch', 'sent'),
      perSecond: perSecond('prefetch')
    },
    displaced: runs.reduce((total, run) => total + run.server.displaced, 0),
    clientCpuShare: median(runs.map((run) => run.clientCpuShare)),
    serverCpuShare: median(runs.map((run) => run.serverCpuShare)),
    serverElu: median(runs.map((run) => run.serverElu))
  }
}

/** The table's rows and notes for B11. */
export function priorityRows (b11, { add, notes, verdict }) {
  for (const executor of EXECUTORS) {
    const entry = b11.executors[executor]
    if (entry === undefined) continue
    const what = executor === 'pool' ? 'pool (2 threads, 20 ms tasks)' : 'lane (4 slots, 20 ms upstream)'
    for (const mode of MODES) {
      const { critical, prefetch } = entry.summary[mode]
      const measured = `critical ${pct(critical.availability, 2)} 200s (${critical.ok}/${critical.sent}); p99 ×${critical.p99Ratio?.toFixed(2) ?? 'n/a'} ` +
        `(${fmt(critical.p99Before)} → ${fmt(critical.p99Spike)}); prefetch ${pct(prefetch.availability)}`
      if (mode === 'on') {
        const ok = critical.availability >= 0.99 && critical.p99Ratio !== null && critical.p99Ratio <= 3
        add('B11', `prefetch spike, ${what}, priorities`, measured, '≥ 99%, p99 ≤ ×3', verdict(ok))
      } else {
        add('B11', `prefetch spike, ${what}, all equal (baseline)`, measured, 'report', 'INFO')
      }
    }
  }
  const { pool: p, lane: l } = b11.executors
  notes.push(`B11: capacity measured first (${p === undefined ? '' : `pool ${p.capacity.toFixed(0)}/s`}${p !== undefined && l !== undefined ? ', ' : ''}${l === undefined ? '' : `lane ${l.capacity.toFixed(0)}/s`}); ` +
    `critical at ${Math.round(b11.criticalShare * 100)}% of it for ${b11.seconds} s, prefetch at ×${b11.spikeFactor} in the middle third; ` +
    `${b11.rounds} rounds each, alternating; availability pooled over the rounds, p99 (of the 200s) ratio = median over rounds of spike ÷ before.`)
}

/** The chart: per second, the share of requests answered 200, per class, with and without priorities. */
export function writePriorityChart (path, b11, machine) {
  const seconds = b11.seconds
  const panels = EXECUTORS.filter((executor) => b11.executors[executor] !== undefined).map((executor) => {
    const { summary, capacity } = b11.executors[executor]
    const series = []
    // Legend names fit the chart writer's legend column.
    for (const [mode, label] of [['on', 'prio'], ['off', 'equal']]) {
      for (const [cls, color] of [['critical', mode === 'on' ? '#2ca02c' : '#d62728'], ['prefetch', mode === 'on' ? '#98df8a' : '#ff9896']]) {
        series.push({
          name: `${cls}, ${label}`,
          color,
          dashed: cls === 'prefetch',
          points: summary[mode][cls].perSecond.map((share, second) => [second + 0.5, share === null ? Number.NaN : share * 100])
        })
      }
    }
    return {
      title: `${executor === 'pool' ? 'Pool, 2 threads × 20 ms' : 'Lane, 4 slots × 20 ms upstream'} (capacity ${capacity.toFixed(0)}/s): share of requests answered 200, by second sent`,
      yLabel: '% 200',
      yMin: 0,
      yMax: 105,
      series
    }
  })
  writeFileSync(path, chart({
    title: `B11: critical traffic (30% of capacity) and a prefetch spike (×10), ${b11.rounds} rounds each (${machine.date.slice(0, 10)})`,
    xLabel: 'seconds',
    xMin: 0,
    xMax: seconds,
    bands: [{ from: seconds / 3, to: (2 * seconds) / 3, label: 'prefetch spike ×10' }],
    panels
  }))
}

function pct (share, digits = 1) {
  return Number.isFinite(share) ? `${(share * 100).toFixed(digits)}%` : 'n/a'
}

function fmt (ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'n/a'
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`
}
