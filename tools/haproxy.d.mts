// Types for tools/haproxy.mjs.
import type { HaproxyConfigOptions } from '../example-app/haproxy-config.mjs'

/** One row of `show stat`, keyed by header name (`pxname`, `svname`, `status`, `qcur`, `weight`, …). */
export type StatRow = Record<string, string>
/** One row of `show servers state` (`srv_op_state`, `srv_admin_state`, …). */
export type ServerStateRow = Record<string, string>

export declare function parseShowStat (csv: string): StatRow[]
export declare function parseServersState (text: string): ServerStateRow[]
export declare function socketCommand (socketPath: string, command: string): Promise<string>

export interface WaitOptions {
  /**
   * Give up after this many ms.
   * @default 10000
   */
  timeout?: number
  /**
   * Poll interval in ms.
   * @default 25
   */
  interval?: number
}

interface StartCommon {
  /** The haproxy binary. Default: tools/system.mjs `haproxyPath()`. */
  binary?: string
  /**
   * Time allowed, in ms, for every server to be UP at start.
   * @default 10000
   */
  readyTimeout?: number
}

/** A recipe of example-app/haproxy-config.mjs; the frontend's port and the admin socket are picked here. */
export type HaproxyRecipeStartOptions = Omit<HaproxyConfigOptions, 'frontendPort' | 'statsSocket'> & StartCommon & { write?: undefined }

/** A configuration written whole, given where HAProxy's frontend and admin socket go. */
export interface HaproxyWrittenStartOptions extends StartCommon {
  write: (where: { frontendPort: number, statsSocket: string }) => string
}

export type HaproxyStartOptions = HaproxyRecipeStartOptions | HaproxyWrittenStartOptions

/** Where a server of `be_app` listens. */
export interface ServerAddress {
  /** @default '127.0.0.1' */
  host?: string
  port: number
  /** The agent check's port (its address is `host`); null or left out for a server without agent checks. */
  agentPort?: number | null
}

export declare class Haproxy {
  readonly binary: string
  readonly config: string
  readonly configPath: string
  readonly socketPath: string
  readonly frontendPort: number
  /** `http://127.0.0.1:<frontendPort>` */
  readonly url: string
  readonly pid: number | undefined
  readonly running: boolean
  readonly output: string
  command (command: string): Promise<string>
  stat (): Promise<StatRow[]>
  servers (): Promise<StatRow[]>
  backend (): Promise<StatRow>
  serversState (): Promise<ServerStateRow[]>
  waitFor (predicate: (servers: StatRow[]) => boolean, options?: WaitOptions): Promise<{ servers: StatRow[], elapsedMs: number }>
  waitForServer (name: string, predicate: (status: string, row: StatRow) => boolean, options?: WaitOptions): Promise<{ row: StatRow, elapsedMs: number }>
  waitAllUp (options?: WaitOptions): Promise<StatRow[]>
  /** Points server `name` of `be_app` at `host:port` (and its agent check at `agentPort`) through the runtime API. */
  moveServer (name: string, address: ServerAddress): Promise<void>
  stop (): Promise<void>
}

export declare function startHaproxy (options: HaproxyStartOptions): Promise<Haproxy>
