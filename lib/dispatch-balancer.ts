/**
 * A piscina load balancer that reports each dispatch: the one moment a task leaves the queue and
 * starts on a thread.
 *
 * piscina emits no per-task event and keeps its wait-time histogram private, but it calls its
 * `loadBalancer` exactly when it tries to dispatch a task, and dispatches whenever that returns a
 * worker (piscina 5.3 `_distributeTask`). Wrapping the balancer therefore tells the exact moment
 * each task starts on a thread, at the cost of one function call per dispatch; the pool matches the
 * task to its own call (by `task.created`) and measures the wait from that call's `run()`.
 */
import type { Piscina } from 'piscina'

type PiscinaOptions = NonNullable<ConstructorParameters<typeof Piscina>[0]>
export type LoadBalancer = NonNullable<PiscinaOptions['loadBalancer']>
export type BalancerTask = Parameters<LoadBalancer>[0]
type BalancerWorker = Parameters<LoadBalancer>[1][number]

/**
 * Least-busy balancing, as piscina does by default: an idle worker first, otherwise the one with
 * the fewest tasks under `maximumUsage`. A task with an AbortSignal gets a thread to itself, and a
 * thread running one takes no other, because aborting a task terminates its whole thread.
 */
export function leastBusyBalancer (maximumUsage: number): LoadBalancer {
  return function leastBusy (task: BalancerTask, workers: BalancerWorker[]) {
    let candidate: BalancerWorker | null = null
    let lowestUsage = maximumUsage
    for (const worker of workers) {
      if (worker.currentUsage === 0) return worker
      if (worker.isRunningAbortableTask || task.isAbortable) continue
      if (worker.currentUsage < lowestUsage) {
        candidate = worker
        lowestUsage = worker.currentUsage
      }
    }
    return candidate
  }
}

/** Wraps `inner` so that `onDispatch(task)` runs for each task it hands to a worker. */
export function observeDispatch (inner: LoadBalancer, onDispatch: (task: BalancerTask) => void): LoadBalancer {
  return function observedBalancer (task: BalancerTask, workers: BalancerWorker[]) {
    const worker = inner(task, workers)
    if (worker !== null) onDispatch(task)
    return worker
  }
}
