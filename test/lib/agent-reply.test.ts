import t from 'tap'
import { AGENT_DOWN_REASON, agentReply, agentWeight } from '../../lib/agent-reply.js'

const options = { capacity: 4, queue: 4, minWeight: 1 }
const up = { draining: false, down: false }

t.test('weight: share of free slots, in 10% steps, floored at minWeight', async (t) => {
  const cases: Array<[running: number, queued: number, weight: number]> = [
    [0, 0, 100], [1, 0, 90], [2, 0, 80], [3, 0, 60], [4, 0, 50], [4, 2, 30], [4, 3, 10], [4, 4, 1], [4, 40, 1], [-1, -1, 100]
  ]
  for (const [running, queued, weight] of cases) {
    t.equal(agentWeight({ running, queued }, options), weight, `running ${running}, queued ${queued}`)
  }
  t.equal(agentWeight({ running: 4, queued: 4 }, { ...options, minWeight: 0 }), 0)
  t.equal(agentWeight({ running: 4, queued: 4 }, { ...options, minWeight: 25 }), 25)
  t.equal(agentWeight({ running: 1, queued: 0 }, { capacity: 1, queue: 0, minWeight: 1 }), 1, 'no queue allowed: one task fills it')
})

t.test('weight never increases when the load grows (no flapping from the formula itself)', async (t) => {
  for (const capacity of [1, 2, 3, 8]) {
    for (const queue of [0, 1, capacity, 3 * capacity]) {
      let previous = Infinity
      for (let load = 0; load <= 2 * (capacity + queue); load++) {
        const weight = agentWeight({ running: Math.min(load, capacity), queued: Math.max(0, load - capacity) }, { capacity, queue, minWeight: 1 })
        t.ok(weight <= previous, `capacity ${capacity}, queue ${queue}, load ${load}: ${weight}% <= ${previous}%`)
        t.ok(weight === 1 || (weight % 10 === 0 && weight >= 10 && weight <= 100), `${weight}% is a 10% step or the floor`)
        previous = weight
      }
    }
  }
})

t.test('reply lines', async (t) => {
  t.equal(agentReply({ running: 0, queued: 0 }, up, options), 'up ready 100% maxconn:8')
  t.equal(agentReply({ running: 4, queued: 2 }, up, options), 'up ready 30% maxconn:8')
  t.equal(agentReply({ running: 0, queued: 0 }, { draining: true, down: false }, options), 'up drain 100% maxconn:8')
  t.equal(agentReply({ running: 0, queued: 0 }, { draining: false, down: true }, options), `down ready maxconn:8 #${AGENT_DOWN_REASON}`)
  t.equal(agentReply({ running: 0, queued: 0 }, { draining: true, down: true }, options), 'down drain maxconn:8 #pool down')
  t.equal(agentReply({ running: 0, queued: 0 }, up, { capacity: 2, queue: 0, minWeight: 1 }), 'up ready 100% maxconn:2')
})
