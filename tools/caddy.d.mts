// Types for tools/caddy.mjs.
export interface CaddyUpstream {
  host?: string
  port: number
}

export interface CaddyfileOptions {
  port: number
  upstreams: CaddyUpstream[]
  /**
   * @default '/healthz'
   */
  healthUri?: string
  /**
   * @default 1000
   */
  intervalMs?: number
  /**
   * @default 1000
   */
  timeoutMs?: number
}

export declare function caddyfile (options: CaddyfileOptions): string

export interface Caddy {
  readonly port: number
  readonly url: string
  readonly pid: number | undefined
  output: () => string
  stop: () => Promise<void>
}

export declare function startCaddy (options: Omit<CaddyfileOptions, 'port'> & { binary: string }): Promise<Caddy>
