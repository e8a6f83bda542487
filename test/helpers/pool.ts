/**
 * Pool test helpers. Each one that starts something stops it: `startPoolApp` registers the pool
 * plugin on a real Fastify app listening on 127.0.0.1:0 and closes it in `t.teardown`;
 * `createPool` builds a bare `BackpressurePool` and closes it in `t.teardown`.
 *
 * Importing this module also installs the process guards (listener leaks, unhandled rejections).
 */
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { BackpressurePool, type BackpressurePoolOptions } from '../../lib/pool.js'
import poolPlugin, { type PoolPluginOptions } from '../../plugins/pool/index.js'
import './process-guards.js'

export const WORKER = fileURLToPath(new URL('../fixtures/worker.mjs', import.meta.url))
export const WORKER_URL = new URL('../fixtures/worker.mjs', import.meta.url).href

/** What a test needs from tap's `t`: a teardown. */
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
const THREAD_DEFAULTS = { execArgv: [] as string[], env: threadEnv() }

export function createPool (t: Teardown, options: Partial<BackpressurePoolOptions> = {}): BackpressurePool {
  const pool = new BackpressurePool({ filename: WORKER, ...THREAD_DEFAULTS, ...options })
  t.teardown(() => pool.close())
  return pool
}

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

export interface PoolApp {
  app: FastifyInstance
  url: string
  logs: LogCapture
}

export interface StartPoolAppOptions {
  /** Adds routes before the app listens. */
  routes?: (app: FastifyInstance) => void
  /** Don't listen (for tests that only need `ready()`). */
  listen?: boolean
}

/** A Fastify app with the pool plugin, listening on 127.0.0.1:0, closed in teardown. */
export async function startPoolApp (t: Teardown, pool: Partial<PoolPluginOptions>, options: StartPoolAppOptions = {}): Promise<PoolApp> {
  const logs = new LogCapture()
  const app = Fastify({ logger: { level: 'info', stream: logs } })
  t.teardown(() => app.close())
  await app.register(poolPlugin, { filename: WORKER, ...THREAD_DEFAULTS, ...pool })
  options.routes?.(app)
  let url = ''
  if (options.listen !== false) {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
    url = `http://127.0.0.1:${address.port}`
  } else {
    await app.ready()
  }
  return { app, url, logs }
}

export { seededRandom } from './random.js'

/** Fake timers for the flap damper: time moves only when `tick()` says so. */
export class FakeTimers {
  now = 0
  readonly #timers = new Map<number, { at: number, callback: () => void }>()
  #nextId = 1

  readonly setTimeout = (callback: () => void, ms: number): { id: number, unref: () => void } => {
    const id = this.#nextId++
    this.#timers.set(id, { at: this.now + ms, callback })
    return { id, unref: () => {} }
  }

  readonly clearTimeout = (timer: unknown): void => {
    this.#timers.delete((timer as { id: number }).id)
  }

  get pending (): number {
    return this.#timers.size
  }

  /** Advances time by `ms`, firing due timers in order. */
  tick (ms: number): void {
    const end = this.now + ms
    for (;;) {
      let due: [number, { at: number, callback: () => void }] | undefined
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry
      }
      if (due === undefined) break
      this.#timers.delete(due[0])
      this.now = due[1].at
      due[1].callback()
    }
    this.now = end
  }
}

export const GATE_WORKER = fileURLToPath(new URL('../fixtures/gate-worker.mjs', import.meta.url))
export const BROKEN_WORKER = fileURLToPath(new URL('../fixtures/broken-worker.mjs', import.meta.url))

/** A gate for `gate-worker.mjs`: a task `{ op: 'gate', gate: gate.cell }` holds its thread until `open()`. */
export class Gate {
  readonly cell = new Int32Array(new SharedArrayBuffer(4))
  open (): void {
    Atomics.store(this.cell, 0, 1)
    Atomics.notify(this.cell, 0)
  }
}
