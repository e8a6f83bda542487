/**
 * The busy/free state of a worker pool, kept without polling.
 *
 * **busy = more tasks queued than idle threads.** This is the signal a load balancer needs: once
 * it holds, every new task waits. piscina's own `drain`/`needsDrain` events measure thread
 * capacity, not the queue (piscinajs/piscina#868), so they are not used.
 *
 * The tracker does not watch anything itself. Its owner calls `recompute()` at each moment the
 * two numbers can change: synchronously after each `run()`, hand-off, removal from the queue and
 * settlement, and in a microtask after piscina's `workerCreate`/`workerDestroy`. Those are the only
 * moments a task moves between a queue and a thread (piscina 5.3 `src/index.ts`: `_onWorkerAvailable`, `_onError`).
 */

/** The two numbers busy is derived from (`BackpressurePool` passes its own queue plus piscina's;
 * a bare piscina instance satisfies it too). */
export interface QueueSource {
  readonly queueSize: number
  readonly idleThreads: number
}

export type Transition = 'busy' | 'free'

export class BusyTracker {
  readonly #source: QueueSource
  readonly #onTransition: (to: Transition) => void
  #busy = false
  #transitions = { busy: 0, free: 0 }

  constructor (source: QueueSource, onTransition: (to: Transition) => void) {
    this.#source = source
    this.#onTransition = onTransition
  }

  get busy (): boolean {
    return this.#busy
  }

  /** How many times each transition has happened since creation. */
  get transitions (): Readonly<{ busy: number, free: number }> {
    return this.#transitions
  }

  /**
   * Reads the source and fires `onTransition` if the state changed. Exactly one call per change:
   * repeated recomputes in the same state are free of side effects.
   * Returns the current state.
   */
  recompute (): boolean {
    const busy = this.#source.queueSize > this.#source.idleThreads
    if (busy !== this.#busy) {
      this.#busy = busy
      const to: Transition = busy ? 'busy' : 'free'
      this.#transitions[to]++
      this.#onTransition(to)
    }
    return busy
  }
}
