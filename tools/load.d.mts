// Types for tools/load.mjs.
import type { IncomingHttpHeaders } from 'node:http'

export interface LoadResult {
  /** The status code, when an answer came. */
  status?: number
  headers?: IncomingHttpHeaders
  /** What went wrong, when no answer came (`timeout`, `ECONNRESET`, …). */
  error?: string
  /** From sending to the end of the answer (or the error). */
  ms: number
}

export interface OpenLoopOptions {
  /** An http:// URL. */
  url: string
  /** Arrivals per second. */
  ratePerS: number
  /** No request is sent after this. */
  durationMs: number
  /**
   * Requests outstanding at most; arrivals beyond are skipped (counted).
   * @default 1000
   */
  maxInFlight?: number
  /**
   * Requests sent at most.
   * @default Infinity
   */
  maxRequests?: number
  /**
   * Per-request timeout in ms.
   * @default 10000
   */
  requestTimeoutMs?: number
  /** Stops sending (answers still awaited). */
  signal?: AbortSignal
  onResult?: (result: LoadResult) => void
}

/** Sends, then awaits every answer; resolves with how many were sent and skipped. */
export declare function openLoopLoad (options: OpenLoopOptions): Promise<{ sent: number, skipped: number, elapsedMs: number }>
