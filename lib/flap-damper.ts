/**
 * Flap damping for the busy/free signal: a change is reported only once the raw state has held
 * for a minimum dwell time, so a pool that hovers at the edge of saturation does not flip its
 * health answer on every task.
 *
 * Off by default (both dwell times 0: every change is reported synchronously), because HAProxy
 * already damps with `rise`/`fall` (HAProxy configuration manual, 5.2 "Server and default-server
 * options", `rise`/`fall`). Turn it on when something else reads the signal (logs, alerts, metrics).
 */

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
