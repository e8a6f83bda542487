/**
 * One helper starts a real Fastify app for the plugin tests: `startApp(t, options)` registers the
 * pool plugin (on test/fixtures/worker.mjs unless `pool.filename` says otherwise; `pool: false` for
 * none), the httpchk plugin when `httpchk` is given, runs `setup` (other plugins, routes, hooks),
 * listens on 127.0.0.1:0 unless `listen: false`, and closes the app (worker threads and agent port
 * included) in `t.teardown`. Log lines are kept, parsed, in `logs` (`logs.waitFor(msg)` waits for
 * one); `fastify` passes Fastify options (https, http2), `logLevel` the level logged at.
 * `readyError(app)` is the error `app.ready()` rejects with, for tests of registration errors.
 *
 * `withPlugin(plugin, options, routes)` is the options for an app built on one plugin that brings
 * its own executors (the umbrella, the lanes plugin): no pool from startApp, then that plugin.
 *
 *   const { app, url, logs } = await startApp(t, { pool: { maxThreads: 1 }, httpchk: {} })
 *   await startApp(t, withPlugin(lanesPlugin, options, (app) => { app.get('/up', handler) }))
 *   await startApp(t, { ...withPlugin(backpressure, options), listen: false })
 */
import type { ServerOptions as HttpsServerOptions } from 'node:https'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback, type FastifyPluginOptions, type FastifyServerOptions } from 'fastify'
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
  readonly #waiters: Array<{ msg: string, resolve: (line: Record<string, unknown>) => void }> = []

  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const text of chunk.toString().split('\n')) {
      if (text === '') continue
      const line = JSON.parse(text) as Record<string, unknown>
      this.lines.push(line)
      for (const waiter of this.#waiters.filter((w) => w.msg === line.msg)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
        waiter.resolve(line)
      }
    }
    callback()
  }

  messages (msg: string): Array<Record<string, unknown>> {
    return this.lines.filter((line) => line.msg === msg)
  }

  /** Resolves with the first line whose msg is `msg`: one already written, else the next to come. */
  async waitFor (msg: string): Promise<Record<string, unknown>> {
    const seen = this.lines.find((line) => line.msg === msg)
    if (seen !== undefined) return seen
    return await new Promise((resolve) => { this.#waiters.push({ msg, resolve }) })
  }
}

/** The error `app.ready()` rejects with (registration errors surface there), or null. */
export async function readyError (app: FastifyInstance): Promise<(Error & { code?: string, statusCode?: number }) | null> {
  return await app.ready().then(() => null, (error: unknown) => error as Error & { code?: string, statusCode?: number })
}

export interface StartAppOptions {
  /** Pool plugin options on top of the test worker and THREAD_DEFAULTS; false: no pool plugin
   * (register what the test needs in `setup`). */
  pool?: Partial<PoolPluginOptions> | false
  /** Registers the httpchk plugin with these options (drain grace 0 unless given). */
  httpchk?: HttpchkPluginOptions
  /** Fastify options, `https` and `http2` included; the default logger writes to `logs`. */
  fastify?: FastifyServerOptions & { https?: HttpsServerOptions, http2?: boolean }
  /** The default logger's level (info). */
  logLevel?: string
  /** Runs after the plugins are registered and before listen: add routes and hooks here. */
  setup?: (app: FastifyInstance) => void | Promise<void>
  /** false: only `ready()`, no listen (url '' and port 0). Default true. */
  listen?: boolean
}

export interface StartedApp {
  app: FastifyInstance
  /** `http://127.0.0.1:<port>` (`https://` with `fastify.https`), or '' when not listening. */
  url: string
  port: number
  logs: LogCapture
}

/** startApp's options for an app built on `plugin` alone (it registers its own pool or lanes, or
 * needs none): startApp registers no pool; `routes` adds the test's routes after the plugin. */
export function withPlugin<Options extends FastifyPluginOptions> (
  plugin: FastifyPluginCallback<Options> | FastifyPluginAsync<Options>,
  options: Options,
  routes?: (app: FastifyInstance) => void
): StartAppOptions {
  return {
    pool: false,
    setup: async (app) => {
      await app.register(plugin, options)
      routes?.(app)
    }
  }
}

export async function startApp (t: Teardown, options: StartAppOptions = {}): Promise<StartedApp> {
  const logs = new LogCapture()
  // The cast: Fastify's overloads type https and http2 apps apart; the tests use them as any app.
  const app = Fastify({ logger: { level: options.logLevel ?? 'info', stream: logs }, ...options.fastify } as FastifyServerOptions)
  t.teardown(() => app.close())
  if (options.pool !== false) await app.register(poolPlugin, { filename: WORKER, ...THREAD_DEFAULTS, ...options.pool })
  if (options.httpchk !== undefined) {
    // No drain grace unless a test asks for one: every app.close() would otherwise wait for it.
    await app.register(httpchkPlugin, { ...options.httpchk, drain: { grace: 0, ...options.httpchk.drain } })
  }
  await options.setup?.(app)
  if (options.listen === false) {
    await app.ready()
    return { app, url: '', port: 0, logs }
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  const protocol = options.fastify?.https === undefined ? 'http' : 'https'
  return { app, url: `${protocol}://127.0.0.1:${address.port}`, port: address.port, logs }
}
