/**
 * Real HAProxy for the e2e tests: finds the binary, picks free loopback ports, writes one of the
 * recipes from example-app/haproxy-config.mjs, checks it (`haproxy -c`), runs `haproxy -f cfg -db`
 * as a child, talks to its admin stats socket, and stops it by PID (registered with t.teardown, so
 * a failing test still stops it).
 *
 * Readiness is read from the stats socket (`show stat` until every server is exactly `UP`): HAProxy
 * starts servers at `UP 1/2` before any check has run (shared/reference/haproxy.md).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { haproxyConfig, type HaproxyConfigOptions } from '../../example-app/haproxy-config.mjs'
import { startExampleApp, type ExampleApp, type ExampleAppExit } from './example-app.js'
import { HAPROXY, findProgram, isCi, missingMessage } from './system.js'

/** The part of tap's Test these helpers use. */
export interface TestContext {
  teardown: (fn: () => unknown) => void
}

/** The haproxy binary: $HAPROXY_PATH, then $PATH, then /usr/sbin and /usr/bin (test/helpers/system.ts). */
export function findHaproxy (env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findProgram(HAPROXY, env)
}

/**
 * What an e2e test does when haproxy is missing: under CI=true the test must fail (the issue's
 * rule: CI installs it, so its absence is a broken machine); elsewhere it is skipped with the
 * install command.
 */
export function haproxyAvailability (env: NodeJS.ProcessEnv = process.env): { path: string } | { path: undefined, ci: boolean, message: string } {
  const path = findHaproxy(env)
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

/** A free TCP port on 127.0.0.1 (HAProxy cannot bind port 0, so ports are picked first). */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve() })
  })
  const address = server.address()
  await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  /* c8 ignore next 2 -- listen() on a TCP host always yields an AddressInfo; this narrows the type */
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}

/** One row of `show stat` (CSV), keyed by the header names (`pxname`, `svname`, `status`, `qcur`, …). */
export type StatRow = Record<string, string>

/** Parses `show stat` CSV: the first line is `# pxname,svname,…`. */
export function parseShowStat (csv: string): StatRow[] {
  const lines = csv.split('\n').filter((line) => line.trim() !== '')
  const header = lines.shift()
  if (header === undefined || !header.startsWith('# ')) throw new Error(`not a show stat answer: ${csv.slice(0, 80)}`)
  const names = header.slice(2).split(',')
  return lines.map((line) => {
    const values = line.split(',')
    return Object.fromEntries(names.map((name, index) => [name, values[index] ?? '']).filter(([name]) => name !== ''))
  })
}

/** One row of `show servers state` (`srv_op_state` 2 = UP, 0 = DOWN; `srv_admin_state` 8 = drain). */
export type ServerStateRow = Record<string, string>

/** Parses `show servers state`: a version line, a `# be_id be_name …` header, then space-separated rows. */
export function parseServersState (text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  const headerIndex = lines.findIndex((line) => line.startsWith('# '))
  if (headerIndex === -1) throw new Error(`not a show servers state answer: ${text.slice(0, 80)}`)
  const names = (lines[headerIndex] as string).slice(2).trim().split(/\s+/)
  return lines.slice(headerIndex + 1).map((line) => {
    const values = line.trim().split(/\s+/)
    return Object.fromEntries(names.map((name, index) => [name, values[index] ?? '']))
  })
}

/** Sends one command to an admin stats socket and returns the whole answer (HAProxy closes the
 * connection after answering a non-interactive command). */
export async function socketCommand (socketPath: string, command: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => { socket.end(`${command}\n`) })
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('error', reject)
    socket.on('close', (hadError) => { if (!hadError) resolve(answer) })
  })
}

export interface WaitOptions {
  /** Give up after this many ms. Default 10000. */
  timeout?: number
  /** Poll interval in ms. Default 25 (the resolution of the measured times). */
  interval?: number
}

export type HaproxyStartOptions = Omit<HaproxyConfigOptions, 'frontendPort' | 'statsSocket'> & {
  /** Extra time allowed for `every server UP` at start. Default 10000 ms. */
  readyTimeout?: number
}

/** A running HAProxy child. */
export class Haproxy {
  readonly binary: string
  readonly config: string
  readonly configPath: string
  readonly socketPath: string
  readonly frontendPort: number
  readonly url: string
  readonly #dir: string
  readonly #child: ChildProcess
  readonly #exited: Promise<number | null>
  #output = ''

  constructor (binary: string, dir: string, config: string, frontendPort: number, child: ChildProcess) {
    this.binary = binary
    this.#dir = dir
    this.config = config
    this.configPath = join(dir, 'haproxy.cfg')
    this.socketPath = join(dir, 'admin.sock')
    this.frontendPort = frontendPort
    this.url = `http://127.0.0.1:${frontendPort}`
    this.#child = child
    const collect = (chunk: Buffer): void => { this.#output = (this.#output + chunk.toString()).slice(-8000) }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => { resolve(code) })
      /* c8 ignore next -- only when the binary found a moment ago cannot be spawned */
      child.once('error', (error) => { this.#output += String(error); resolve(null) })
    })
  }

  get pid (): number {
    return this.#child.pid as number
  }

  /** True while the child runs. */
  get running (): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** The last lines HAProxy wrote (alerts, warnings), for failure messages. */
  get output (): string {
    return this.#output
  }

  async command (command: string): Promise<string> {
    return await socketCommand(this.socketPath, command)
  }

  async stat (): Promise<StatRow[]> {
    return parseShowStat(await this.command('show stat'))
  }

  /** Server rows of `be_app` (not FRONTEND/BACKEND). */
  async servers (): Promise<StatRow[]> {
    return (await this.stat()).filter((row) => row.pxname === 'be_app' && row.svname !== 'BACKEND')
  }

  async backend (): Promise<StatRow> {
    const row = (await this.stat()).find((candidate) => candidate.pxname === 'be_app' && candidate.svname === 'BACKEND')
    /* c8 ignore next -- every generated config has be_app */
    if (row === undefined) throw new Error('no be_app BACKEND row in show stat')
    return row
  }

  async serversState (): Promise<ServerStateRow[]> {
    return parseServersState(await this.command('show servers state be_app'))
  }

  /** Polls `show stat` until `predicate(serverRows)` holds; resolves with the rows that satisfied it
   * and how long it took. Rejects after `timeout` with the last rows seen. */
  async waitFor (predicate: (servers: StatRow[]) => boolean, options: WaitOptions = {}): Promise<{ servers: StatRow[], elapsedMs: number }> {
    const { timeout = 10000, interval = 25 } = options
    const started = performance.now()
    let last: StatRow[] = []
    for (;;) {
      if (!this.running) throw new Error(`haproxy exited while waiting:\n${this.#output}`)
      try {
        last = await this.servers()
        if (predicate(last)) return { servers: last, elapsedMs: performance.now() - started }
      } catch (error) {
        // The socket does not exist until HAProxy has parsed its config: keep polling.
        if (!isSocketNotReady(error)) throw error
      }
      if (performance.now() - started > timeout) {
        throw new Error(`timed out after ${timeout} ms; servers: ${last.map((row) => `${row.svname}=${row.status}`).join(' ')}`)
      }
      await new Promise((resolve) => setTimeout(resolve, interval))
    }
  }

  /** Waits until one server's `status` satisfies `predicate` (e.g. `(s) => s === 'DOWN'`). */
  async waitForServer (name: string, predicate: (status: string, row: StatRow) => boolean, options: WaitOptions = {}): Promise<{ row: StatRow, elapsedMs: number }> {
    const { servers, elapsedMs } = await this.waitFor((rows) => {
      const row = rows.find((candidate) => candidate.svname === name)
      return row !== undefined && predicate(row.status ?? '', row)
    }, options)
    return { row: servers.find((candidate) => candidate.svname === name) as StatRow, elapsedMs }
  }

  /** Waits until every server reads exactly `UP` (not `UP 1/2`, which is the state before any check). */
  async waitAllUp (options: WaitOptions = {}): Promise<StatRow[]> {
    return (await this.waitFor((rows) => rows.length > 0 && rows.every((row) => row.status === 'UP'), options)).servers
  }

  /** Stops HAProxy by PID (SIGTERM; about 12 ms) and removes its folder. Safe to call twice. */
  async stop (): Promise<void> {
    if (this.running) process.kill(this.pid, 'SIGTERM')
    await this.#exited
    await rm(this.#dir, { recursive: true, force: true })
  }
}

function isSocketNotReady (error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  // ECONNRESET: the listener exists but HAProxy has not started accepting on it yet.
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET'
}

function execFileText (file: string, args: string[]): Promise<{ code: number, output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : 1), output: `${stdout}${stderr}` })
    })
  })
}

/**
 * Writes the recipe's config with a free frontend port and a stats socket in a fresh temp folder,
 * checks it, starts HAProxy, and waits until every server is exactly UP. The teardown stops it.
 */
export async function startHaproxy (t: TestContext, binary: string, options: HaproxyStartOptions): Promise<Haproxy> {
  const { readyTimeout = 10000, ...configOptions } = options
  // Short folder name: the socket path must stay under ~107 characters.
  const dir = await mkdtemp(join(tmpdir(), 'hap-'))
  const frontendPort = await freePort()
  const config = haproxyConfig({ ...configOptions, frontendPort, statsSocket: join(dir, 'admin.sock') })
  const configPath = join(dir, 'haproxy.cfg')
  await writeFile(configPath, config)
  const check = await execFileText(binary, ['-c', '-f', configPath])
  if (check.code !== 0) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`haproxy -c rejected the config:\n${check.output}\n${config}`)
  }
  const child = spawn(binary, ['-f', configPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const haproxy = new Haproxy(binary, dir, config, frontendPort, child)
  t.teardown(async () => { await haproxy.stop() })
  await haproxy.waitAllUp({ timeout: readyTimeout })
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

/** Reads a metric from a Prometheus text exposition: the sum of every series of `name` (all label
 * sets), or undefined when there is none. */
export function metricValue (text: string, name: string): number | undefined {
  const lines = text.split('\n').filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
  if (lines.length === 0) return undefined
  return lines.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0)
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
