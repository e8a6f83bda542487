/**
 * Busy/free without polling. **busy = more tasks queued than free slots**: once it holds, every new
 * task waits, which is what a load balancer needs to know. (piscina's `drain`/`needsDrain` measure
 * threads, not the queue: piscinajs/piscina#868.) `BusyTracker` watches nothing itself: its owner
 * must call `recompute()` wherever either number can change (submission, hand-off, removal,
 * settlement, a thread started or gone). Neither class counts transitions: the engine counts the
 * reported ones, once (`stats().transitions`).
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

  constructor (source: QueueSource, onTransition: (to: Transition) => void) {
    this.#source = source
    this.#onTransition = onTransition
  }

  get busy (): boolean {
    return this.#busy
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
      this.#onTransition(busy ? 'busy' : 'free')
    }
    return busy
  }
}

/** The timer functions the damper uses; injectable so that tests can drive time by hand. */
export interface DamperTimers {
  setTimeout: (callback: () => void, ms: number) => { unref?: () => unknown }
  clearTimeout: (timer: ReturnType<DamperTimers['setTimeout']>) => void
}

export interface DwellTimes {
  /** How long the raw state must stay busy before busy is reported, in ms. */
  toBusyMs: number
  /** How long the raw state must stay free before free is reported, in ms. */
  toFreeMs: number
}

const realTimers: DamperTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => { clearTimeout(timer as NodeJS.Timeout) }
}

/** Reports a change of the raw state only once it has held for its dwell time. */
export class FlapDamper {
  readonly #dwell: DwellTimes
  readonly #onReport: (busy: boolean) => void
  readonly #timers: DamperTimers
  #raw = false
  #reported = false
  #pending: ReturnType<DamperTimers['setTimeout']> | undefined

  constructor (dwell: DwellTimes, onReport: (busy: boolean) => void, timers: DamperTimers = realTimers) {
    this.#dwell = dwell
    this.#onReport = onReport
    this.#timers = timers
  }

  /** The state last reported. */
  get busy (): boolean {
    return this.#reported
  }

  /** Feeds the raw state; reports it now (no dwell) or once it has held for the dwell time. */
  update (rawBusy: boolean): void {
    this.#raw = rawBusy
    if (rawBusy === this.#reported) {
      // The raw state went back before the dwell time ran out: nothing to report.
      this.#cancel()
      return
    }
    if (this.#pending !== undefined) return
    const dwellMs = rawBusy ? this.#dwell.toBusyMs : this.#dwell.toFreeMs
    if (dwellMs === 0) {
      this.#report()
      return
    }
    this.#pending = this.#timers.setTimeout(this.#settle, dwellMs)
    // A pending report must not keep the process alive.
    this.#pending.unref?.()
  }

  /** Cancels a pending report (on close). */
  dispose (): void {
    this.#cancel()
  }

  readonly #settle = (): void => {
    this.#pending = undefined
    this.#report()
  }

  #report (): void {
    this.#reported = this.#raw
    this.#onReport(this.#raw)
  }

  #cancel (): void {
    if (this.#pending === undefined) return
    this.#timers.clearTimeout(this.#pending)
    this.#pending = undefined
  }
}
