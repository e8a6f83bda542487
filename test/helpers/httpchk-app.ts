/**
 * Starts a real Fastify app with the pool and httpchk plugins on 127.0.0.1:0, and closes it
 * when the test ends (worker threads and the agent port included).
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import poolPlugin, { type PoolPluginOptions } from '../../plugins/pool/index.js'
import httpchkPlugin, { type HttpchkPluginOptions } from '../../plugins/httpchk/index.js'

export const WORKER = fileURLToPath(new URL('../fixtures/worker.mjs', import.meta.url))

export interface StartedApp {
  app: FastifyInstance
  port: number
  url: string
}

export interface StartOptions {
  httpchk?: HttpchkPluginOptions
  pool?: Partial<PoolPluginOptions>
  fastify?: FastifyServerOptions
  /** Runs after the suite is registered and before listen: add routes and hooks here. */
  setup?: (app: FastifyInstance) => void | Promise<void>
  /** Don't call listen(); the app is only made ready. */
  noListen?: boolean
}

export async function startHttpchkApp (t: Test, options: StartOptions = {}): Promise<StartedApp> {
  const app = Fastify({ logger: false, ...options.fastify })
  t.teardown(() => app.close())
  await app.register(poolPlugin, { filename: WORKER, minThreads: 2, maxThreads: 2, execArgv: [], ...options.pool })
  // No drain grace unless a test asks for one: every app.close() would otherwise wait for it.
  await app.register(httpchkPlugin, { ...options.httpchk, drain: { graceMs: 0, ...options.httpchk?.drain } })
  await options.setup?.(app)
  if (options.noListen === true) {
    await app.ready()
    return { app, port: 0, url: '' }
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { app, port, url: `http://127.0.0.1:${port}` }
}
