/**
 * The e2e topology on top of tools/haproxy.mjs: HAProxy started for a tap test (stopped in its
 * teardown, also when the test fails), N example-app instances behind it (`startCluster`), what a
 * test file does when haproxy is missing (`haproxyBinaryOrSkip`), and a bounded load (`runLoad`).
 */
import { startHaproxy as startHaproxyProcess, type Haproxy, type HaproxyRecipeStartOptions, type HaproxyStartOptions, type WaitOptions } from '../../tools/haproxy.mjs'
import { HAPROXY, findProgram, isCi, missingMessage } from '../../tools/system.mjs'
import { startExampleApp, type ExampleApp, type ExampleAppExit } from '../../tools/example-app.mjs'

export type { Haproxy, HaproxyStartOptions, StatRow, ServerStateRow, WaitOptions } from '../../tools/haproxy.mjs'
export { metricValue } from '../../tools/prometheus-text.mjs'

/** The part of tap's Test these helpers use. */
/** Check timings short enough for a test to see a server go DOWN and UP again within a second or
 * two: a check every 200 ms (100 ms while a state is changing or the server is DOWN), two in a row to
 * change state, the agent as often as the check. A file that needs other figures spreads these and
 * overrides what differs. */
export const FAST_CHECKS = { inter: 200, fastinter: 100, downinter: 100, rise: 2, fall: 2, agentInter: 200 } as const

export interface TestContext {
  teardown: (fn: () => unknown) => void
}

/**
 * What an e2e test does when haproxy is missing: under CI=true the test must fail (CI installs it,
 * so its absence is a broken machine); elsewhere it is skipped with the install command.
 */
export function haproxyAvailability (env: NodeJS.ProcessEnv = process.env): { path: string } | { path: undefined, ci: boolean, message: string } {
  const path = findProgram(HAPROXY, env)
  if (path !== undefined) return { path }
  return { path: undefined, ci: isCi(env), message: missingMessage(HAPROXY) }
}

/**
 * The haproxy binary for a test file. When it is missing, under CI=true the file fails (a test that
 * needs a real HAProxy must never pass without one); elsewhere the whole file is skipped with the
 * install command. Returns undefined in both cases, so the caller defines no test.
 */
export function haproxyBinaryOrSkip (t: { fail: (message: string) => unknown, plan: (count: number, comment?: string) => unknown }): string | undefined {
  const availability = haproxyAvailability()
  if (availability.path !== undefined) return availability.path
  if (availability.ci) t.fail(availability.message)
  else t.plan(0, `skip: ${availability.message}`)
  return undefined
}

/** tools/haproxy.mjs `startHaproxy`, stopped in the test's teardown. */
export async function startHaproxy (t: TestContext, binary: string, options: HaproxyStartOptions): Promise<Haproxy> {
  const haproxy = await startHaproxyProcess({ ...options, binary })
  t.teardown(async () => { await haproxy.stop() })
  return haproxy
}

// ---------------------------------------------------------------------------------------------
// The topology: N example-app instances (child processes) behind one HAProxy.

export interface ClusterOptions extends Omit<HaproxyRecipeStartOptions, 'servers'> {
  /** How many app instances. Default 2. */
  instances?: number
  /** Env for every instance (strings), or per instance by index (tools/example-app.mjs's defaults: PORT=0, AGENT_PORT=0). */
  env?: Record<string, string> | ((index: number) => Record<string, string>)
}

export interface ClusterInstance {
  /** HAProxy's server name: app1, app2, … */
  name: string
  /** What it was started with: PORT and AGENT_PORT are 0 unless given (the OS picks its ports). */
  env: Record<string, string>
  /** The running process (its `port` and `agentPort` are where it listens); replaced on restart. */
  app: ExampleApp
}

export interface Cluster {
  haproxy: Haproxy
  instances: ClusterInstance[]
  /** `restartInstance` on instance `index` behind this cluster's HAProxy. */
  restart: (index: number, options?: WaitOptions) => Promise<ExampleAppExit>
}

/** The `servers` entry of HAProxy's config for an instance: where it listens now (its ready line). */
export function serverOf ({ name, app }: ClusterInstance): { name: string, host: string, port: number, agentPort: number | null } {
  return { name, host: new URL(app.url).hostname, port: app.port, agentPort: app.agentPort }
}

/**
 * Starts an instance on ports the OS picks (listen on port 0: nothing to race for) and stops it in
 * the test's teardown, also when the test fails. The teardown reads `instance.app` then, so after a
 * restart the replacement is the one stopped.
 */
export async function startInstance (t: TestContext, name: string, env: Record<string, string>): Promise<ClusterInstance> {
  const instance: ClusterInstance = { name, env, app: await startExampleApp({ env }) }
  t.teardown(async () => { await instance.app.stop({ killAfterMs: 5000 }) })
  return instance
}

/**
 * One step of a rolling restart: SIGTERM the instance (it drains, then exits), start its
 * replacement on ports the OS picks, point every balancer's server at them (`moveServer`), and wait
 * until each reads it exactly UP. Resolves with the old process's exit.
 *
 * Why not the same ports: the old process releases them when it exits, and on a machine where
 * another suite runs, anyone may take a released port before the replacement binds it (EADDRINUSE;
 * tools/ports.mjs says who). On a host of its own, coming back on the same ports
 * (docs/operations.md) needs no runtime command.
 */
export async function restartInstance (instance: ClusterInstance, balancers: Haproxy[], waitOptions: WaitOptions = {}): Promise<ExampleAppExit> {
  const exit = await instance.app.stop({ killAfterMs: 15000 })
  instance.app = await startExampleApp({ env: instance.env })
  const server = serverOf(instance)
  await Promise.all(balancers.map(async (haproxy) => {
    await haproxy.moveServer(server.name, server)
    await haproxy.waitForServer(server.name, (status) => status === 'UP', waitOptions)
  }))
  return exit
}

/**
 * Starts the instances, then HAProxy with their addresses, and waits until every server is exactly
 * UP. Teardowns stop everything by PID, also when the test fails.
 */
export async function startCluster (t: TestContext, binary: string, options: ClusterOptions): Promise<Cluster> {
  const { instances: count = 2, env = {}, ...haproxyOptions } = options
  const instances: ClusterInstance[] = []
  for (let index = 0; index < count; index++) {
    instances.push(await startInstance(t, `app${index + 1}`, typeof env === 'function' ? env(index) : env))
  }
  const haproxy = await startHaproxy(t, binary, { ...haproxyOptions, servers: instances.map(serverOf) })

  async function restart (index: number, waitOptions: WaitOptions = {}): Promise<ExampleAppExit> {
    const instance = instances[index]
    if (instance === undefined) throw new RangeError(`no instance ${index}`)
    return await restartInstance(instance, [haproxy], waitOptions)
  }

  return { haproxy, instances, restart }
}

// ---------------------------------------------------------------------------------------------
// Bounded load through HAProxy.

export interface LoadOptions {
  /** Full URL to request. */
  url: string
  /** Requests in flight at once. */
  concurrency: number
  /** Hard cap on requests sent. */
  maxRequests: number
  /** Hard cap on time in ms; no new request starts after it. */
  maxMs: number
  /** Stops sending new requests once it aborts (in-flight ones finish). */
  signal?: AbortSignal
  /** Per-request client timeout in ms. Default 15000. */
  requestTimeoutMs?: number
}

export interface LoadResult {
  sent: number
  ok: number
  /** Non-2xx answers and transport errors, with what happened. */
  failures: string[]
  /** 2xx answers per `X-Served-By` (the config's `servedBy` option). */
  byServer: Record<string, number>
  /** Every status seen, with its count. */
  statuses: Record<string, number>
  elapsedMs: number
}

/** Sends GETs from `concurrency` loops until `maxRequests`, `maxMs` or `signal`; never unbounded. */
export async function runLoad (options: LoadOptions): Promise<LoadResult> {
  const { url, concurrency, maxRequests, maxMs, signal, requestTimeoutMs = 15000 } = options
  const result: LoadResult = { sent: 0, ok: 0, failures: [], byServer: {}, statuses: {}, elapsedMs: 0 }
  const started = performance.now()
  const more = (): boolean => result.sent < maxRequests && performance.now() - started < maxMs && signal?.aborted !== true
  async function loop (): Promise<void> {
    while (more()) {
      result.sent++
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(requestTimeoutMs) })
        await response.arrayBuffer()
        result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1
        if (response.ok) {
          result.ok++
          const server = response.headers.get('x-served-by') ?? '?'
          result.byServer[server] = (result.byServer[server] ?? 0) + 1
        } else {
          result.failures.push(`status ${response.status} at ${Math.round(performance.now() - started)} ms`)
        }
      } catch (error) {
        result.statuses.error = (result.statuses.error ?? 0) + 1
        result.failures.push(`${String(error)} at ${Math.round(performance.now() - started)} ms`)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  result.elapsedMs = performance.now() - started
  return result
}
