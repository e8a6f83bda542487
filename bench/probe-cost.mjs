// B10, probe cost at fleet scale: the CPU one process spends answering four HAProxy instances, as a
// share of one core, at `inter 2s` (the incident's setting) and at `inter 100ms`, for the HTTP probe
// alone (recipe `httpchk`) and with the agent-check too (recipe `agent`: the HTTP check plus
// `agent-check` at the same interval). Target: under 0.1% of a core at `inter 2s`.
//
//   node bench/probe-cost.mjs [--seconds 20] [--rounds 3]
//
// Each figure is the process's CPU time over a window (process.cpuUsage(), read over IPC) minus the
// same process's CPU over an equal window with no balancer, divided by the window. Rounds alternate
// the scenarios (idle, httpchk 2s, agent 2s, httpchk 100ms, agent 100ms, …) and the median is
// reported. All on 127.0.0.1; every HAProxy and server is stopped by PID.
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { startServer } from './lib/children.mjs'
import { median } from './lib/stats.mjs'
import { startHaproxy } from '../tools/haproxy.mjs'

const SERVER = fileURLToPath(new URL('./fixtures/server.mjs', import.meta.url))
const BALANCERS = 4
const TARGET_SHARE_AT_2S = 0.001

export const SCENARIOS = [
  { id: 'idle', recipe: null, inter: null },
  { id: 'httpchk 2s', recipe: 'httpchk', inter: 2000 },
  { id: 'agent 2s', recipe: 'agent', inter: 2000 },
  { id: 'httpchk 100ms', recipe: 'httpchk', inter: 100 },
  { id: 'agent 100ms', recipe: 'agent', inter: 100 }
]

/** CPU share of one core the server spent during `seconds` with `scenario`'s balancers checking it. */
async function measure (server, scenario, seconds) {
  const balancers = []
  try {
    if (scenario.recipe !== null) {
      for (let index = 0; index < BALANCERS; index++) {
        balancers.push(await startHaproxy({
          recipe: scenario.recipe,
          node: `lb${index + 1}`,
          inter: scenario.inter,
          fastinter: scenario.inter,
          downinter: scenario.inter,
          agentInter: scenario.inter,
          servers: [{ name: 'app1', port: server.port, agentPort: server.agentPort }]
        }))
      }
    }
    // Past HAProxy's start (its first checks come at once, then spread over `inter`).
    await new Promise((resolve) => setTimeout(resolve, Math.max(1000, 2 * (scenario.inter ?? 0))))
    const before = await server.call('cpu')
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
    const after = await server.call('cpu')
    return (after.cpuMicros - before.cpuMicros) / (after.at - before.at)
  } finally {
    for (const haproxy of balancers) await haproxy.stop()
  }
}

/** Runs every scenario `rounds` times, alternating; returns the medians, idle subtracted. */
export async function benchProbeCost ({ seconds = 20, rounds = 3, log = console.log } = {}) {
  const server = await startServer(SERVER, 'fleet')
  const samples = new Map(SCENARIOS.map(({ id }) => [id, []]))
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const scenario of SCENARIOS) {
        const share = await measure(server, scenario, seconds)
        samples.get(scenario.id).push(share)
        log(`[B10] round ${round} ${scenario.id}: ${(share * 100).toFixed(4)}% of a core`)
      }
    }
  } finally {
    await server.close()
  }
  const idle = median(samples.get('idle'))
  return SCENARIOS.filter(({ recipe }) => recipe !== null).map(({ id, inter }) => {
    const share = Math.max(0, median(samples.get(id)) - idle)
    const target = inter === 2000 ? TARGET_SHARE_AT_2S : null
    return { id, share, idle, target, pass: target === null ? null : share < target, samples: samples.get(id) }
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, rounds: { type: 'string', default: '3' } } })
  const rows = await benchProbeCost({ seconds: Number(values.seconds), rounds: Number(values.rounds) })
  console.log(`\nB10 probe cost, ${BALANCERS} balancers, median of ${values.rounds} alternating rounds of ${values.seconds} s, idle subtracted`)
  for (const row of rows) {
    const verdict = row.target === null ? '' : `  target < ${(row.target * 100).toFixed(1)}%  ${row.pass ? 'PASS' : 'MISS'}`
    console.log(`  ${row.id.padEnd(14)} ${(row.share * 100).toFixed(4)}% of a core${verdict}`)
  }
}
