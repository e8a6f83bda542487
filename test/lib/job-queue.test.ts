import t from 'tap'
import { JobQueue } from '../../lib/core/job-queue.js'

t.test('FIFO with removal from anywhere, maxQueue, and iteration that deletes as it goes', async (t) => {
  const queue = new JobQueue<number>(3)
  t.equal(queue.next(), undefined)
  queue.add(1); queue.add(2); queue.add(3)
  t.equal(queue.full, true)
  queue.delete(2) // from the middle
  t.equal(queue.size, 2)
  t.same([...queue], [1, 3])
  queue.delete(1) // the head: the removed 2 is skipped
  t.equal(queue.next(), 3)
  queue.add(4)
  const seen: number[] = []
  for (const job of queue) { seen.push(job); queue.delete(job) }
  t.same(seen, [3, 4], 'an iteration that deletes each job sees every job once')
  t.equal(queue.size, 0)
  t.equal(queue.next(), undefined)
})

t.test('a long-running queue compacts its consumed prefix and keeps its order', async (t) => {
  const queue = new JobQueue<number>(Infinity)
  for (let i = 0; i < 3000; i++) queue.add(i)
  for (let i = 0; i < 2000; i++) queue.delete(i)
  queue.delete(2500) // a middle removal survives the compaction
  queue.add(3000) // compacts: the 2000 consumed slots outweigh the 1000 left
  t.equal(queue.size, 1000)
  t.equal(queue.next(), 2000)
  const rest = [...queue]
  t.equal(rest.length, 1000)
  t.equal(rest[0], 2000)
  t.notOk(rest.includes(2500))
  t.equal(rest.at(-1), 3000)
})

t.test('an iteration whose deletion moves the head past a removed job does not yield it', async (t) => {
  const queue = new JobQueue<string>(Infinity)
  queue.add('a'); queue.add('b'); queue.add('c')
  queue.delete('b')
  const seen: string[] = []
  for (const job of queue) { seen.push(job); queue.delete(job) }
  t.same(seen, ['a', 'c'])
})
