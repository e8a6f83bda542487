import t from 'tap'
import { JobQueue } from '../../../lib/executor/queue.js'
import { seededRandom } from '../../helpers/random.js'

interface J { readonly id: number | string, readonly priority: number, readonly submittedAt: number }
let clock = 0
const job = (id: number | string, priority = 0): J => ({ id, priority, submittedAt: ++clock })
const ids = (queue: Iterable<J>): Array<number | string> => [...queue].map((j) => j.id)

t.test('FIFO with removal from anywhere, maxQueue, and iteration that deletes as it goes', async (t) => {
  const queue = new JobQueue<J>(3)
  t.equal(queue.next(), undefined)
  const [one, two, three, four] = [job(1), job(2), job(3), job(4)]
  queue.add(one); queue.add(two); queue.add(three)
  t.equal(queue.full, true)
  queue.delete(two) // from the middle
  t.equal(queue.size, 2)
  t.same(ids(queue), [1, 3])
  queue.delete(one) // the head: the removed 2 is skipped
  t.equal(queue.next(), three)
  queue.add(four)
  const seen: Array<number | string> = []
  for (const j of queue) { seen.push(j.id); queue.delete(j) }
  t.same(seen, [3, 4], 'an iteration that deletes each job sees every job once')
  t.equal(queue.size, 0)
  t.equal(queue.next(), undefined)
})

t.test('a long-running queue compacts its consumed prefix and keeps its order', async (t) => {
  const queue = new JobQueue<J>(Infinity)
  const jobs = Array.from({ length: 3001 }, (_, i) => job(i))
  for (let i = 0; i < 3000; i++) queue.add(jobs[i] as J)
  for (let i = 0; i < 2000; i++) queue.delete(jobs[i] as J)
  queue.delete(jobs[2500] as J) // a middle removal survives the compaction
  queue.add(jobs[3000] as J) // compacts: the 2000 consumed slots outweigh the 1000 left
  t.equal(queue.size, 1000)
  t.equal(queue.next(), jobs[2000])
  const rest = ids(queue)
  t.equal(rest.length, 1000)
  t.equal(rest[0], 2000)
  t.notOk(rest.includes(2500))
  t.equal(rest.at(-1), 3000)
})

t.test('an iteration whose deletion moves the head past a removed job does not yield it', async (t) => {
  const queue = new JobQueue<J>(Infinity)
  const [a, b, c] = [job('a'), job('b'), job('c')]
  queue.add(a); queue.add(b); queue.add(c)
  queue.delete(b)
  const seen: Array<number | string> = []
  for (const j of queue) { seen.push(j.id); queue.delete(j) }
  t.same(seen, ['a', 'c'])
})

t.test('highest priority first, FIFO within a priority: [0, 5, 0, 10, 5] start as 10, 5, 5, 0, 0', async (t) => {
  const queue = new JobQueue<J>(Infinity)
  const jobs = [job('a', 0), job('b', 5), job('c', 0), job('d', 10), job('e', 5)]
  for (const j of jobs) queue.add(j)
  t.same(ids(queue), ['d', 'b', 'e', 'a', 'c'], 'the iteration is the order of service')
  t.same(queue.depths(), [[10, 1], [5, 2], [0, 2]])
  const served: Array<number | string> = []
  for (let next = queue.next(); next !== undefined; next = queue.next()) { served.push(next.id); queue.delete(next) }
  t.same(served, ['d', 'b', 'e', 'a', 'c'])
  t.same(queue.depths(), [], 'no level is kept once empty')
  // Negative priorities come after the default; an emptied level comes back in its place.
  const later = [job('f', -3), job('g', 0), job('h', 10), job('i', -3)]
  for (const j of later) queue.add(j)
  t.same(ids(queue), ['h', 'g', 'f', 'i'])
})

t.test('displaceable(): the newest job of the lowest priority, only for a higher arrival', async (t) => {
  const queue = new JobQueue<J>(4)
  t.equal(queue.displaceable(5), undefined, 'nothing waits')
  const [low1, low2, low3, high] = [job('low1', 0), job('low2', 0), job('low3', 0), job('high', 10)]
  queue.add(low1); queue.add(high); queue.add(low2); queue.add(low3)
  t.equal(queue.full, true)
  t.equal(queue.displaceable(0), undefined, 'an arrival of the lowest waiting priority is refused')
  t.equal(queue.displaceable(-1), undefined, 'and one below it')
  t.equal(queue.displaceable(1), low3, 'a higher one takes the place of the newest of the lowest')
  queue.delete(low3) // the newest: popped, no mark left behind
  queue.delete(low2) // the newest again
  t.same(ids(queue), ['high', 'low1'])
  queue.add(low2); queue.add(low3)
  queue.delete(low2) // the middle of its level: marked
  t.equal(queue.displaceable(10), low3)
  queue.delete(low3) // the tail: popped, and the marked low2 behind it with it
  t.equal(queue.displaceable(10), low1)
  t.equal(queue.lowest(), low1)
  queue.delete(low1)
  t.equal(queue.displaceable(20), high, 'the lowest waiting priority is now 10')
  t.equal(queue.displaceable(10), undefined)
  t.same(ids(queue), ['high'])
})

t.test('oldest() and lowest(): what admission judges and what it sheds', async (t) => {
  const queue = new JobQueue<J>(Infinity)
  t.equal(queue.oldest(), undefined)
  t.equal(queue.lowest(), undefined)
  const [old, mid, young] = [job('old', 10), job('mid', 0), job('young', 0)]
  queue.add(young); queue.add(mid); queue.add(old) // added out of submission order on purpose
  t.equal(queue.oldest(), old, 'the smallest submittedAt over the heads of every level')
  t.equal(queue.lowest(), young, 'the head of the lowest priority')
})

t.test('random operations agree with a sorted model: order, sizes, displacement', async (t) => {
  const random = seededRandom(21)
  const queue = new JobQueue<J>(Infinity)
  let model: J[] = []
  const mismatches: string[] = []
  // Service order: priority descending, then arrival (submittedAt) ascending.
  const sorted = (): J[] => [...model].sort((a, b) => b.priority - a.priority || a.submittedAt - b.submittedAt)
  for (let op = 0; op < 5000; op++) {
    const roll = random()
    if (roll < 0.45 || model.length === 0) {
      const j = job(op, Math.floor(random() * 7) - 3)
      queue.add(j)
      model.push(j)
    } else if (roll < 0.7) {
      const next = queue.next() as J
      if (next !== sorted()[0]) mismatches.push(`op ${op}: next() ${String(next.id)}, model ${String(sorted()[0]?.id)}`)
      queue.delete(next)
      model = model.filter((j) => j !== next)
    } else if (roll < 0.9) {
      const victim = model[Math.floor(random() * model.length)] as J
      queue.delete(victim)
      model = model.filter((j) => j !== victim)
    } else {
      const order = sorted()
      const lowest = (order.at(-1) as J).priority
      const expected = order.filter((j) => j.priority === lowest).at(-1) as J
      if (queue.displaceable(lowest + 1) !== expected) mismatches.push(`op ${op}: displaceable() is not ${String(expected.id)}`)
      queue.delete(expected)
      model = model.filter((j) => j !== expected)
    }
    if (queue.size !== model.length) mismatches.push(`op ${op}: size ${queue.size}, model ${model.length}`)
  }
  t.same(mismatches, [], 'next(), displaceable() and size agree with the model at every step')
  t.same(ids(queue), sorted().map((j) => j.id), 'the same order at the end')
})
