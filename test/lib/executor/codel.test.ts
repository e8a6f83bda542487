import t from 'tap'
import { QueueDelayController } from '../../../lib/executor/admission.js'

t.test('sheds only when the queue has stood for the interval and the task waited over target', async (t) => {
  const codel = new QueueDelayController({ targetMs: 5, intervalMs: 100 })
  t.equal(codel.targetMs, 5)
  t.equal(codel.standing(0), false, 'an empty queue is not standing')
  codel.queueLength(1, 0)
  t.same(codel.judge(0, 3), { shed: false, recheckInMs: 3 }, 'under target: ask again once it is over')
  t.same(codel.judge(0, 10), { shed: false, recheckInMs: 90 }, 'over target, queue not standing yet: ask again when it would be')
  t.equal(codel.standing(99), false)
  t.equal(codel.standing(100), true)
  t.same(codel.judge(0, 100), { shed: true }, 'standing and over target: shed')
  t.same(codel.judge(97, 100), { shed: false, recheckInMs: 3 }, 'standing but under target: not yet')
  codel.queueLength(3, 120)
  t.equal(codel.standing(120), true, 'more tasks do not restart the interval')
  codel.queueLength(0, 130)
  t.equal(codel.standing(130), false, 'the queue emptied')
  codel.queueLength(1, 140)
  t.equal(codel.standing(200), false, 'a new interval starts when the queue fills again')
  t.same(codel.judge(140, 200), { shed: false, recheckInMs: 40 })
})

t.test('recheck is never below 1 ms', async (t) => {
  const codel = new QueueDelayController({ targetMs: 0, intervalMs: 1 })
  t.same(codel.judge(0, 0), { shed: false, recheckInMs: 1 })
  codel.queueLength(1, 0)
  t.same(codel.judge(0, 0.5), { shed: false, recheckInMs: 1 })
  t.same(codel.judge(0, 1), { shed: true })
})

t.test('judging a task the controller was not told about: ask again after an interval', async (t) => {
  const codel = new QueueDelayController({ targetMs: 5, intervalMs: 100 })
  t.same(codel.judge(0, 10), { shed: false, recheckInMs: 100 })
})
