// Types for example-app/upstream.mjs (plain ESM, no build step), used by the TypeScript tests.
export interface Upstream {
  /** `http://<host>:<port>/` */
  readonly url: string
  readonly port: number
  close: () => Promise<void>
}

/** A slow upstream: answers every request after `delayMs` (default 300; `?delay=ms` per request). */
export declare function startUpstream (options?: { host?: string, port?: number, delayMs?: number }): Promise<Upstream>
