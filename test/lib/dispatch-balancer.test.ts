import t from 'tap'
import { leastBusyBalancer, observeDispatch, type LoadBalancer } from '../../lib/dispatch-balancer.js'

type Task = Parameters<LoadBalancer>[0]
type Worker = Parameters<LoadBalancer>[1][number]
const task = (isAbortable: boolean, created = 0): Task => ({ taskId: 1, filename: '', name: '', created, isAbortable }) as unknown as Task
const worker = (id: number, currentUsage: number, isRunningAbortableTask = false): Worker => ({ id, currentUsage, isRunningAbortableTask }) as unknown as Worker

t.test('least busy: an idle worker first, else the least used under the limit', async (t) => {
  const balance = leastBusyBalancer(3)
  t.equal(balance(task(false), [worker(1, 2), worker(2, 0)])?.id, 2, 'idle first')
  t.equal(balance(task(false), [worker(1, 2), worker(2, 1), worker(3, 2)])?.id, 2, 'least used')
  t.equal(balance(task(false), [worker(1, 3), worker(2, 3)]), null, 'none under the limit')
  t.equal(balance(task(true), [worker(1, 1), worker(2, 2)]), null, 'an abortable task gets a thread to itself')
  t.equal(balance(task(false), [worker(1, 1, true), worker(2, 2)])?.id, 2, 'a thread running an abortable task takes no other')
})

t.test('observeDispatch reports each dispatched task, and only those', async (t) => {
  const dispatched: Task[] = []
  const balance = observeDispatch(leastBusyBalancer(1), (task) => { dispatched.push(task) })
  const waiting = task(false, 1)
  const started = task(false, 2)
  t.equal(balance(waiting, [worker(1, 1)]), null)
  t.equal(balance(started, [worker(1, 0)])?.id, 1)
  t.same(dispatched, [started], 'only the task handed to a worker')
})
