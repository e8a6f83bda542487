// Types for tools/fault-proxy.mjs.
export interface FaultProxyOptions {
  /** Target port on `host`. */
  port: number
  /**
   * Target host.
   * @default 127.0.0.1
   */
  host?: string
  /**
   * Initial delay per chunk in ms.
   * @default 0
   */
  delayMs?: number
}

export interface FaultProxy {
  /** The proxy's own port on 127.0.0.1. */
  port: number
  /** `http://127.0.0.1:<port>/` */
  url: string
  /** Current delay per chunk, in ms (read at the moment each chunk arrives). */
  readonly delayMs: number
  setDelay: (ms: number) => void
  /** Connections accepted so far. */
  readonly connections: number
  /** Chunks that were held back by a non-zero delay. */
  readonly delayedChunks: number
  /** Closes the listener and every connection. Safe to call twice. */
  close: () => Promise<void>
}

/** Closed in `t.teardown` when `t` is given. */
export declare function startFaultProxy (t: { teardown: (fn: () => unknown) => void } | undefined, options: FaultProxyOptions): Promise<FaultProxy>
