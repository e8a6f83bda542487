// Types for tools/balancers.mjs (plain ESM, no build step), used by the TypeScript tests.
import type { SystemProgram } from './system.mjs'

export type BalancerKind = 'nginx' | 'apache' | 'varnish'

export declare const BALANCERS_DOC: string
/** The documented ports: the balancer, then the two processes (app1, app2). */
export declare const DOC_PORTS: { readonly listen: number, readonly upstreams: readonly number[] }
export declare const BALANCERS: Readonly<Record<BalancerKind, {
  readonly system: SystemProgram
  /** The doc block's title (```nginx title="nginx.conf"```). */
  readonly title: string
  /** The doc block's fence language. */
  readonly lang: string
  readonly paths: ReadonlyArray<readonly [string, string]>
  readonly listenInFile: boolean
}>>

export declare function balancerForLang (lang: string): BalancerKind | undefined
/** The block titled as `kind`'s in docs/balancers.md (or `file`). */
export declare function docBlock (kind: BalancerKind, file?: string): Promise<string>
/** The documented configuration with its ports and paths moved; throws if one is no longer named. */
export declare function substitute (kind: BalancerKind, text: string, target: { listen: number, upstreams: number[], dir: string }): string
/** `nginx -t`, `apache2 -t` or `varnishd -C` on `text`, its ports and paths substituted. */
export declare function checkConfig (kind: BalancerKind, text: string, options: { binary: string }): Promise<{ code: number, output: string }>
export declare function parseBalancerManager (html: string): Array<{ url: string, status: string }>
/** `varnishadm backend.list -p`: health, and whether the newest probe got an answer and a happy one. */
export declare function parseBackendList (text: string): Array<{ name: string, admin: string, probe: string, health: string, lastAnswered: boolean | undefined, lastHappy: boolean | undefined }>

export interface BalancerMember {
  /** app1, app2: the upstream's place in the documented order. */
  name: string
  /** In rotation (Apache: status has `Ok`; Varnish: `healthy`). */
  up: boolean
  /** What the balancer shows. */
  status: string
  /** Varnish: whether the newest probe got an answer (a sick backend without one may only have been
   * slow); undefined when no probe in its history got one (Varnish then prints no `Good Recv` row). */
  lastAnswered?: boolean | undefined
}

export interface Balancer {
  kind: BalancerKind
  /** `http://127.0.0.1:<port>` */
  url: string
  port: number
  dir: string
  /** The configuration it runs: the documented one, ports and paths substituted. */
  config: string
  readonly pid: number | undefined
  readonly running: boolean
  /** The balancer's own view of each process (Apache, Varnish; nginx throws: it has none). */
  members: () => Promise<BalancerMember[]>
  /** The processes an `X-Served-By` header names, in the order tried. */
  servedBy: (header: string | null | undefined) => string[]
  /** Its output and log files, for failure messages. */
  logs: () => Promise<string>
  /** SIGTERM by PID, awaits the exit, removes the scratch folder. */
  stop: () => Promise<void>
}

export declare function startBalancer (kind: BalancerKind, options: { binary: string, upstreams: number[], text?: string, readyTimeoutMs?: number }): Promise<Balancer>
