// Types for example-app/haproxy-config.mjs (plain ESM, no build step), used by the TypeScript tests.
export type Recipe = 'httpchk' | 'disable-on-404' | 'agent'
export declare const RECIPES: readonly Recipe[]

export interface HaproxyServerEntry {
  name: string
  host?: string
  port: number
  /** Required by the 'agent' recipe. */
  agentPort?: number | null
}

export interface HaproxyConfigOptions {
  servers: HaproxyServerEntry[]
  /** Default 'agent'. */
  recipe?: Recipe
  /** Admin stats socket path; none when left out. */
  statsSocket?: string
  frontendHost?: string
  frontendPort?: number
  /** Probe path of the 'disable-on-404' recipe (GET, HTTP/1.1, Host localhost). Default '/healthz'. */
  probePath?: string
  /** Check timings in ms; rise/fall in checks. Defaults: inter 1000, fastinter 250, downinter 1000, rise 2, fall 3. */
  inter?: number
  fastinter?: number
  downinter?: number
  rise?: number
  fall?: number
  /** Agent poll interval in ms. Default 1000. */
  agentInter?: number
  /** Static per-server cap (agent recipe) until the agent sends maxconn:N. Default 32. */
  maxconn?: number
  /** Server weight; agent percentages are relative to it. Default 100. */
  weight?: number
  timeoutConnect?: number
  timeoutClient?: number
  timeoutServer?: number
  /** How long a request waits in HAProxy's queue before a 503. Default 10000. */
  timeoutQueue?: number
  timeoutCheck?: number
  /** Default 'roundrobin' for the agent recipe (follows the agent's weights), 'leastconn' otherwise. */
  balance?: string
  /** `node` in global (shown in X-Haproxy-Server-State). Default 'lb1'. */
  node?: string
  /** Add `X-Served-By: <server name>` to every response. Default false. */
  servedBy?: boolean
  /** The arguments of `option httpchk` (method, target, version), e.g. 'OPTIONS *' or 'OPTIONS * HTTP/1.1'
   * (then with `http-check send hdr Host localhost`). Default '': HAProxy's `OPTIONS / HTTP/1.0`. Not with 'disable-on-404'. */
  checkRequest?: string
  /** Requests HAProxy's queue serves first (`http-request set-priority-class`, lowest class first),
   * by path prefix: e.g. `[{ path: '/critical', class: -10 }]` (docs/priorities.md). */
  priorityClasses?: Array<{ path: string, class: number }>
}

export declare function haproxyConfig (options: HaproxyConfigOptions): string

export declare const SAMPLE: {
  readonly statsSocket: string
  readonly frontendPort: number
  readonly servers: ReadonlyArray<{ readonly name: string, readonly port: number, readonly agentPort: number }>
}
export declare function sampleConfig (recipe: Recipe): string
