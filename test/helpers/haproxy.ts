/**
 * The e2e topology on top of tools/haproxy.mjs: HAProxy started for a tap test (stopped in its
 * teardown, also when the test fails), N example-app instances behind it (`startCluster`), what a
 * test file does when haproxy is missing (`haproxyBinaryOrSkip`), and a bounded load (`runLoad`).
 */
import { startHaproxy as startHaproxyProcess, type Haproxy, type HaproxyStartOptions, type WaitOptions } from '../../tools/haproxy.mjs'
import { freePort } from '../../tools/ports.mjs'
import { HAPROXY, findProgram, isCi, missingMessage } from '../../tools/system.mjs'
import { startExampleApp, type ExampleApp, type ExampleAppExit } from '../../tools/example-app.mjs'

export type { Haproxy, HaproxyStartOptions, StatRow, ServerStateRow, WaitOptions } from '../../tools/haproxy.mjs'
export { metricValue } from '../../tools/prometheus-text.mjs'

/** The part of tap's Test these helpers use. */
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

export interface ClusterOptions extends Omit<HaproxyStartOptions, 'servers'> {
  /** How many app instances. Default 2. */
  instances?: number
  /** Env for every instance (strings), or per instance by index. PORT/AGENT_PORT are set here. */
  env?: Record<string, string> | ((index: number) => Record<string, string>)
}

export interface ClusterInstance {
  /** HAProxy's server name: app1, app2, … */
  name: string
  port: number
  agentPort: number
  env: Record<string, string>
  app: ExampleApp
}

export interface Cluster {
  haproxy: Haproxy
  instances: ClusterInstance[]
  /** Stops instance `index` (SIGTERM: drain, then exit), starts it again on the same ports, and
   * waits until HAProxy reads it exactly UP. Resolves with the exit of the old process. */
  restart: (index: number, options?: WaitOptions) => Promise<ExampleAppExit>
}

/**
 * Starts the instances on fixed free ports (HAProxy's server addresses are fixed in its config, so
 * a restarted instance comes back on the same ports), then HAProxy, and waits until every server is
 * exactly UP. Teardowns stop everything by PID, also when the test fails.
 */
export async function startCluster (t: TestContext, binary: string, options: ClusterOptions): Promise<Cluster> {
  const { instances: count = 2, env = {}, ...haproxyOptions } = options
  const instances: ClusterInstance[] = []
  for (let index = 0; index < count; index++) {
    const port = await freePort()
    const agentPort = await freePort()
    const instanceEnv = { ...(typeof env === 'function' ? env(index) : env), PORT: String(port), AGENT_PORT: String(agentPort) }
    const app = await startExampleApp({ env: instanceEnv })
    const instance: ClusterInstance = { name: `app${index + 1}`, port, agentPort, env: instanceEnv, app }
    // Reads instance.app at teardown time, so a restarted process is the one stopped.
    t.teardown(async () => { await instance.app.stop({ killAfterMs: 5000 }) })
    instances.push(instance)
  }
  const haproxy = await startHaproxy(t, binary, {
    ...haproxyOptions,
    servers: instances.map(({ name, port, agentPort }) => ({ name, port, agentPort }))
  })

  async function restart (index: number, waitOptions: WaitOptions = {}): Promise<ExampleAppExit> {
    const instance = instances[index]
    if (instance === undefined) throw new RangeError(`no instance ${index}`)
    const exit = await instance.app.stop({ killAfterMs: 15000 })
    instance.app = await startExampleApp({ env: instance.env })
    await haproxy.waitForServer(instance.name, (status) => status === 'UP', waitOptions)
    return exit
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
