/**
 * One helper starts a real Fastify app for the plugin tests: `startApp(t, options)` registers the
 * pool plugin (on test/fixtures/worker.mjs unless `pool.filename` says otherwise; `pool: false` for
 * none), the httpchk plugin when `httpchk` is given, runs `setup` (other plugins, routes, hooks),
 * listens on 127.0.0.1:0 unless `listen: false`, and closes the app (worker threads and agent port
 * included) in `t.teardown`. Log lines are kept, parsed, in `logs`.
 *
 *   const { app, url, logs } = await startApp(t, { pool: { maxThreads: 1 }, httpchk: {} })
 *   await startApp(t, { pool: false, setup: async (app) => { await app.register(lanesPlugin, options) } })
 */
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import poolPlugin, { type PoolPluginOptions } from '../../plugins/pool/index.js'
import httpchkPlugin, { type HttpchkPluginOptions } from '../../plugins/httpchk/index.js'

export const WORKER = fileURLToPath(new URL('../fixtures/worker.mjs', import.meta.url))

/** What a helper needs from tap's `t`: a teardown. */
export interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Worker threads must not load tap's TypeScript loader (~0.5 s per thread start), nor collect V8
 * coverage: the fixtures need none, and under coverage a test process that terminated threads by
 * the hundred (aborts, deadlines, crashes) hung now and then with no test running. */
function threadEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.NODE_V8_COVERAGE
  return env
}
export const THREAD_DEFAULTS: { execArgv: string[], env: NodeJS.ProcessEnv } = { execArgv: [], env: threadEnv() }

/** Two threads, both up from the start: the httpchk tests' pool (the agent's maxconn counts them). */
export const TWO_THREADS = { minThreads: 2, maxThreads: 2 } as const satisfies Partial<PoolPluginOptions>

/** A pino destination that keeps every log line, parsed. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString().split('\n')) {
      if (line !== '') this.lines.push(JSON.parse(line) as Record<string, unknown>)
    }
    callback()
  }

  messages (msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line.msg === msg)
  }
}

export interface StartAppOptions {
  /** Pool plugin options on top of the test worker and THREAD_DEFAULTS; false: no pool plugin
   * (register what the test needs in `setup`). */
  pool?: Partial<PoolPluginOptions> | false
  /** Registers the httpchk plugin with these options (drain grace 0 unless given). */
  httpchk?: HttpchkPluginOptions
  /** Fastify options; the default logger writes to `logs` at level info. */
  fastify?: FastifyServerOptions
  /** Runs after the plugins are registered and before listen: add routes and hooks here. */
  setup?: (app: FastifyInstance) => void | Promise<void>
  /** false: only `ready()`, no listen (url '' and port 0). Default true. */
  listen?: boolean
}

export interface StartedApp {
  app: FastifyInstance
  /** `http://127.0.0.1:<port>`, or '' when not listening. */
  url: string
  port: number
  logs: LogCapture
}

export async function startApp (t: Teardown, options: StartAppOptions = {}): Promise<StartedApp> {
  const logs = new LogCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs }, ...options.fastify })
  t.teardown(() => app.close())
  if (options.pool !== false) await app.register(poolPlugin, { filename: WORKER, ...THREAD_DEFAULTS, ...options.pool })
  if (options.httpchk !== undefined) {
    // No drain grace unless a test asks for one: every app.close() would otherwise wait for it.
    await app.register(httpchkPlugin, { ...options.httpchk, drain: { graceMs: 0, ...options.httpchk.drain } })
  }
  await options.setup?.(app)
  if (options.listen === false) {
    await app.ready()
    return { app, url: '', port: 0, logs }
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { app, url: `http://127.0.0.1:${address.port}`, port: address.port, logs }
}
