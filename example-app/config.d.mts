// Types for example-app/config.mjs (plain ESM, no build step), used by the TypeScript tests.

/** The variables and their defaults (docs/example-app.md has the same table). */
export declare const ENV_DEFAULTS: Readonly<Record<string, string>>

export interface ExampleAppConfig {
  host: string
  port: number
  agentPort: number | null
  maxThreads: number
  maxQueue: number
  taskTimeoutMs: number
  upstreamUrl: string | null
  upstreamDelayMs: number
  upstreamTimeoutMs: number
  /** UPSTREAM_ADAPTIVE: the `upstream` lane's adaptive limit, or null for POOL_MAX_THREADS slots. */
  upstreamAdaptive: { min: number, max: number, initial?: number } | null
  upstreamAffectsProbe: boolean
  drainGraceMs: number
  probeMethods: string[]
  probeUrl: string
  probeUnavailableStatus: number
  livenessUrl: string | null
  blockMaxMs: number
  dashboardIntervalMs: number
  logLevel: string
}

/** Reads the configuration; throws `Invalid env NAME=…` for a value that is present but wrong. */
export declare function readConfig (env?: NodeJS.ProcessEnv): ExampleAppConfig
