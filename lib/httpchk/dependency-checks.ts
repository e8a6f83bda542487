/**
 * Named dependency checks, run in the background, each bounded by `timeoutMs`: never on the probe's
 * path, so the probe stays a read of a flag however slow a dependency is. A check fails when it
 * throws, rejects or outlives its timeout (its signal is then aborted); `onResult` decides what a
 * failure means. Rounds never overlap: the next is armed when the last has settled.
 */

export type DependencyCheck = (signal: AbortSignal) => unknown

export interface DependencyChecksOptions {
  checks: Readonly<Record<string, DependencyCheck>>
  /** Time between the end of one round and the start of the next, in ms. */
  intervalMs: number
  /** A check still running after this many ms fails, and its signal is aborted. */
  timeoutMs: number
  /** Each check's outcome: `error` is undefined when it passed. */
  onResult: (name: string, error: Error | undefined) => void
}

export class DependencyChecks {
  readonly #options: DependencyChecksOptions
  readonly #names: readonly string[]
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  /** Aborts the round in progress when the checks stop. */
  #round: AbortController | undefined

  constructor (options: DependencyChecksOptions) {
    this.#options = options
    this.#names = Object.keys(options.checks)
  }

  get size (): number {
    return this.#names.length
  }

  /** Runs one round now and resolves when every check has settled; then keeps running rounds. */
  async start (): Promise<void> {
    await this.#runRound()
    this.#schedule()
  }

  /** Stops the rounds and aborts the checks in progress. */
  stop (): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#round?.abort(new Error('dependency checks stopped'))
  }

  #schedule (): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      // A round rejects only when onResult throws, which the plugin's never does.
      this.#runRound().then(() => { this.#schedule() }, /* c8 ignore next -- see above */ () => {})
    }, this.#options.intervalMs)
    // The checks watch the app; they never keep the process alive on their own.
    this.#timer.unref()
  }

  async #runRound (): Promise<void> {
    const round = new AbortController()
    this.#round = round
    await Promise.all(this.#names.map(async (name) => {
      const error = await this.#runOne(name, round.signal)
      if (!this.#stopped) this.#options.onResult(name, error)
    }))
  }

  async #runOne (name: string, roundSignal: AbortSignal): Promise<Error | undefined> {
    const { timeoutMs } = this.#options
    const controller = new AbortController()
    const onRoundAbort = (): void => { controller.abort(roundSignal.reason) }
    roundSignal.addEventListener('abort', onRoundAbort, { once: true })
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<Error>((resolve) => {
      timer = setTimeout(() => {
        const error = new Error(`check "${name}" timed out after ${timeoutMs} ms`)
        controller.abort(error)
        resolve(error)
      }, timeoutMs)
      timer.unref()
    })
    const check = this.#options.checks[name] as DependencyCheck
    const outcome = (async () => { await check(controller.signal) })().then(
      () => undefined,
      (error: unknown) => error instanceof Error ? error : new Error(`check "${name}" failed: ${String(error)}`)
    )
    try {
      return await Promise.race([outcome, timedOut])
    } finally {
      clearTimeout(timer)
      roundSignal.removeEventListener('abort', onRoundAbort)
    }
  }
}
