import t from 'tap'
import { agentReply, agentWeight, type AgentLoad } from '../../../lib/haproxy/agent-reply.js'
import { PROBE_STATES } from '../../../lib/httpchk/readiness.js'

const options = { maxQueue: 4, minWeight: 1 }
const load = (running: number, queued: number, concurrency = 4): AgentLoad => ({ executors: concurrency === 0 ? [] : [{ running, queued, concurrency }] })

t.test('weight: share of free slots, in 10% steps, floored at minWeight', async (t) => {
  const cases: Array<[running: number, queued: number, weight: number]> = [
    [0, 0, 100], [1, 0, 90], [2, 0, 80], [3, 0, 60], [4, 0, 50], [4, 2, 30], [4, 3, 10], [4, 4, 1], [4, 40, 1], [-1, -1, 100]
  ]
  for (const [running, queued, weight] of cases) {
    t.equal(agentWeight(load(running, queued), options), weight, `running ${running}, queued ${queued}`)
  }
  t.equal(agentWeight(load(4, 4), { ...options, minWeight: 0 }), 0)
  t.equal(agentWeight(load(4, 4), { ...options, minWeight: 25 }), 25)
  t.equal(agentWeight(load(1, 0, 1), { maxQueue: 0, minWeight: 1 }), 1, 'no queue allowed: one task fills it')
  t.equal(agentWeight(load(4, 0), { maxQueue: undefined, minWeight: 1 }), 50, 'queue undefined: as many as the concurrency')
  t.equal(agentWeight(load(0, 0, 0), { maxQueue: undefined, minWeight: 1 }), 100, 'no executor: nothing to measure')
})

t.test('several executors: the fullest one sets the weight; maxconn counts them all; the queue is shared by concurrency', async (t) => {
  const pool = { running: 2, queued: 2, concurrency: 2 }
  const lane = { running: 0, queued: 0, concurrency: 8 }
  t.equal(agentWeight({ executors: [pool, lane] }, { maxQueue: undefined, minWeight: 1 }), 1, 'the pool is full: the process is full')
  t.equal(agentReply('busy', 'busy: pool', { executors: [pool, lane] }, { maxQueue: undefined, minWeight: 1 }), 'up ready 1% maxconn:20 #busy: pool')
  t.equal(agentWeight({ executors: [{ ...pool, running: 1, queued: 0 }, { ...lane, running: 4 }] }, { maxQueue: undefined, minWeight: 1 }), 80, 'pool 3/4 free, lane 12/16 free')
  t.equal(agentWeight({ executors: [{ running: 1, queued: 0, concurrency: 1 }, { running: 0, queued: 0, concurrency: 3 }] }, { maxQueue: 4, minWeight: 1 }), 50, 'queue 4 shared 1:3: the pool has 2 slots, one used')
  t.equal(agentWeight({ executors: [{ running: 0, queued: 0, concurrency: 0 }] }, { maxQueue: undefined, minWeight: 1 }), 100, 'an executor with no slots at all is skipped')
})

t.test('weight never increases when the load grows (no flapping from the formula itself)', async (t) => {
  for (const concurrency of [1, 2, 3, 8]) {
    for (const queue of [0, 1, concurrency, 3 * concurrency]) {
      let previous = Infinity
      for (let used = 0; used <= 2 * (concurrency + queue); used++) {
        const weight = agentWeight(load(Math.min(used, concurrency), Math.max(0, used - concurrency), concurrency), { maxQueue: queue, minWeight: 1 })
        t.ok(weight <= previous, `concurrency ${concurrency}, queue ${queue}, load ${used}: ${weight}% <= ${previous}%`)
        t.ok(weight === 1 || (weight % 10 === 0 && weight >= 10 && weight <= 100), `${weight}% is a 10% step or the floor`)
        previous = weight
      }
    }
  }
})

t.test('reply lines: one per readiness state, from the state table', async (t) => {
  const lines = Object.fromEntries(PROBE_STATES.map((state) => [state, agentReply(state, undefined, load(4, 2), options)]))
  t.same(lines, {
    starting: 'up drain 30% maxconn:8',
    free: 'up ready 30% maxconn:8',
    busy: 'up ready 1% maxconn:8',
    'not-ready': 'up drain 30% maxconn:8',
    draining: 'up drain 30% maxconn:8',
    down: 'down ready maxconn:8'
  }, 'busy: the weight at its floor, whatever the load says')
  t.equal(agentReply('busy', 'busy: under-pressure', load(0, 0), options), 'up ready 1% maxconn:8 #busy: under-pressure', 'no up ready 100% while the probe says busy')
  t.equal(agentReply('busy', 'busy: pool', load(0, 0), { ...options, minWeight: 0 }), 'up ready 0% maxconn:8 #busy: pool')
  t.equal(agentReply('free', undefined, load(0, 0), options), 'up ready 100% maxconn:8')
  t.equal(agentReply('down', 'down: pool', load(0, 0), options), 'down ready maxconn:8 #down: pool')
  t.equal(agentReply('not-ready', 'not-ready: warming\r\nup ready', load(0, 0), options), 'up drain 100% maxconn:8 #not-ready: warming  up ready', 'a reason never ends the line')
  t.equal(agentReply('free', undefined, load(0, 0, 2), { maxQueue: 0, minWeight: 1 }), 'up ready 100% maxconn:2')
  t.equal(agentReply('free', undefined, load(0, 0, 0), { maxQueue: undefined, minWeight: 1 }), 'up ready 100%', 'no executor: no maxconn')
})
