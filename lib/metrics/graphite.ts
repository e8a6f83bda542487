/**
 * Pushes figures to Graphite (carbon) on an interval, over TCP, in the plaintext protocol:
 * one `path value timestamp\n` line per figure, timestamp in Unix seconds
 * (Graphite docs, "Feeding In Your Data" → "The plaintext protocol").
 *
 * Built to sit inside a request-serving process without ever hurting it:
 * - timers are `unref()`'d, so the pusher never keeps the process alive;
 * - every socket error is caught and reported through `onError`; nothing is thrown into the app;
 * - a lost connection is re-opened with a doubling delay, capped, with jitter (many processes
 *   restarted together must not reconnect to carbon in lock-step);
 * - nothing is buffered while disconnected or while the socket is still flushing the previous push:
 *   that push is dropped (and counted), so a dead or slow carbon never grows this process's memory.
 *   Graphite tolerates gaps; a request-serving process does not tolerate unbounded buffers.
 */
import { createConnection, type Socket } from 'node:net'

/** One figure: `path` (dot-separated, without the prefix) and a finite number. */
export type GraphiteFigure = readonly [path: string, value: number]

export interface GraphitePusherOptions {
  host: string
  port: number
  /** Prepended to each path with a dot, e.g. `app.web1` → `app.web1.pool.busy`. */
  prefix: string
  /** How often to push, in ms. */
  intervalMs: number
  /** Returns the figures to push now. Called once per push; a throw or a rejection is reported,
   * never propagated. */
  read: () => Iterable<GraphiteFigure> | PromiseLike<Iterable<GraphiteFigure>>
  /** First reconnect delay in ms; doubles on each failed attempt. Default 500. */
  reconnectMinMs?: number
  /** Largest reconnect delay in ms. Default 30000. */
  reconnectMaxMs?: number
  /** Told about every connection or read error. Default: ignore. */
  onError?: (error: Error) => void
  /** Told each time a connection opens (the first one and every reconnect). Default: ignore. */
  onConnect?: () => void
}

export interface GraphitePusherStats {
  /** Pushes written to the socket. */
  pushes: number
  /** Lines written to the socket. */
  lines: number
  /** Pushes skipped because no connection was open or the previous push had not been flushed. */
  dropped: number
  /** Connections opened (the first one included). */
  connects: number
  /** Connection or read errors seen. */
  errors: number
}

/**
 * Delay before reconnect attempt number `attempt` (1-based): `min × 2^(attempt−1)`, capped at `max`,
 * then "equal jitter" (half fixed, half random) so the delay stays within [delay/2, delay].
 */
export function reconnectDelay (attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30)
  const capped = Math.min(maxMs, minMs * 2 ** exponent)
  return Math.round(capped / 2 + random() * (capped / 2))
}

/** Renders figures as plaintext-protocol lines. Figures whose value is not finite are left out. */
export function formatLines (prefix: string, figures: Iterable<GraphiteFigure>, timestampSeconds: number): string {
  let out = ''
  for (const [path, value] of figures) {
    if (!Number.isFinite(value)) continue
    out += `${prefix}.${path} ${value} ${timestampSeconds}\n`
  }
  return out
}

export class GraphitePusher {
  readonly #options: Required<GraphitePusherOptions>
  #socket: Socket | null = null
  #connected = false
  #failedAttempts = 0
  #interval: NodeJS.Timeout | null = null
  #reconnectTimer: NodeJS.Timeout | null = null
  #started = false
  #stopped = false
  readonly #stats: GraphitePusherStats = { pushes: 0, lines: 0, dropped: 0, connects: 0, errors: 0 }

  constructor (options: GraphitePusherOptions) {
    this.#options = {
      reconnectMinMs: 500,
      reconnectMaxMs: 30000,
      ...options,
      onError: options.onError ?? ignore,
      onConnect: options.onConnect ?? ignore
    }
  }

  /** A connection to carbon is open. */
  get connected (): boolean {
    return this.#connected
  }

  stats (): GraphitePusherStats {
    return { ...this.#stats }
  }

  /** Connects and starts pushing every `intervalMs`. Calling it again does nothing. */
  start (): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    this.#connect()
    this.#interval = setInterval(() => { void this.push() }, this.#options.intervalMs)
    this.#interval.unref()
  }

  /** Pushes the current figures once, if a connection is open and free. Resolves to whether lines
   * were written; never rejects. */
  async push (): Promise<boolean> {
    // Checked before reading (no work while carbon is away or slow) and again after (the read may
    // await, and the socket may close or fill meanwhile).
    if (this.#writableSocket() === null) {
      this.#stats.dropped++
      return false
    }
    let figures: Iterable<GraphiteFigure>
    try {
      figures = await this.#options.read()
    } catch (error) {
      this.#report(error)
      return false
    }
    const socket = this.#writableSocket()
    if (socket === null) {
      this.#stats.dropped++
      return false
    }
    const payload = formatLines(this.#options.prefix, figures, Math.floor(Date.now() / 1000))
    if (payload === '') return false
    this.#stats.pushes++
    this.#stats.lines += countLines(payload)
    socket.write(payload)
    return true
  }

  /** Stops the timers and destroys the socket. The pusher cannot be started again. */
  stop (): void {
    this.#stopped = true
    if (this.#interval !== null) clearInterval(this.#interval)
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer)
    this.#interval = null
    this.#reconnectTimer = null
    this.#connected = false
    this.#socket?.destroy()
    this.#socket = null
  }

  /** The socket, if a connection is open and carbon has taken the previous push
   * (`writableNeedDrain`: adding more would buffer); else null. */
  #writableSocket (): Socket | null {
    const socket = this.#socket
    return socket !== null && this.#connected && !socket.writableNeedDrain ? socket : null
  }

  #connect (): void {
    this.#reconnectTimer = null
    const socket = createConnection({ host: this.#options.host, port: this.#options.port })
    this.#socket = socket
    socket.setNoDelay(true)
    // The socket must not keep the process alive either: the app decides when to exit.
    socket.unref()
    socket.on('connect', () => {
      this.#connected = true
      this.#failedAttempts = 0
      this.#stats.connects++
      this.#callHook(this.#options.onConnect)
    })
    // carbon never answers on the plaintext port; read and discard anything, so the socket's
    // readable side never fills and holds the connection open.
    socket.on('data', () => {})
    socket.on('error', (error) => { this.#report(error) })
    socket.on('close', () => {
      if (this.#socket !== socket) return
      this.#socket = null
      this.#connected = false
      if (!this.#stopped) this.#scheduleReconnect()
    })
  }

  #scheduleReconnect (): void {
    this.#failedAttempts++
    const delay = reconnectDelay(this.#failedAttempts, this.#options.reconnectMinMs, this.#options.reconnectMaxMs)
    this.#reconnectTimer = setTimeout(() => { this.#connect() }, delay)
    this.#reconnectTimer.unref()
  }

  #report (error: unknown): void {
    this.#stats.errors++
    const asError = error instanceof Error ? error : new Error(String(error))
    this.#callHook(() => { this.#options.onError(asError) })
  }

  #callHook (hook: () => void): void {
    try {
      hook()
    } catch {
      // The hooks are the app's own code; a throw from one must not escape a socket event handler,
      // where it would become an uncaught exception.
    }
  }
}

function ignore (): void {}

function countLines (payload: string): number {
  let count = 0
  for (let i = payload.indexOf('\n'); i !== -1; i = payload.indexOf('\n', i + 1)) count++
  return count
}
