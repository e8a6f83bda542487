/**
 * Pool test helpers: `createPool` builds a bare `BackpressurePool` on the test worker from the pool
 * plugin's own options (through its normaliser, as the plugin does) and closes it in `t.teardown`;
 * `createLane` does the same for a lane; worker fixtures and gates. A Fastify app with the pool
 * plugin is ./app.ts `startApp`.
 *
 * Importing this module also installs the process guards (listener leaks, unhandled rejections).
 */
import { fileURLToPath } from 'node:url'
import type { EngineHooks } from '../../lib/executor/engine.js'
import { BackpressurePool } from '../../lib/pool/pool.js'
import { Lane } from '../../lib/lane/lane.js'
import { normalizePoolOptions, type PoolPluginOptions } from '../../plugins/pool/options.js'
import { normalizeLane, type LaneOptions } from '../../plugins/lanes/options.js'
import { THREAD_DEFAULTS, WORKER, type Teardown } from './app.js'
import './process-guards.js'

export { LogCapture, WORKER, type Teardown } from './app.js'
export const WORKER_URL = new URL('../fixtures/worker.mjs', import.meta.url).href

export function createPool (t: Teardown, options: Partial<PoolPluginOptions> = {}, hooks: EngineHooks = {}): BackpressurePool {
  const pool = new BackpressurePool(normalizePoolOptions({ filename: WORKER, ...THREAD_DEFAULTS, ...options }), hooks)
  t.teardown(() => pool.close())
  return pool
}

/** A lane named `name` from the lanes plugin's options for one lane (`concurrency` 2 unless given). */
export function createLane (t: Teardown, options: Partial<LaneOptions> = {}, hooks: EngineHooks = {}, name = 'upstream'): Lane {
  const lane = new Lane(normalizeLane(name, { concurrency: 2, ...options }), hooks)
  t.teardown(() => lane.close())
  return lane
}

export { seededRandom } from './random.js'

export const GATE_WORKER = fileURLToPath(new URL('../fixtures/gate-worker.mjs', import.meta.url))
export const BROKEN_WORKER = fileURLToPath(new URL('../fixtures/broken-worker.mjs', import.meta.url))

/** Resolves once each of the pool's `threads` threads has started and sits idle: threads start
 * after the pool is built, and a test that reads gauges or counts dispatches starts from there. */
export async function threadsReady (pool: BackpressurePool, threads: number): Promise<void> {
  // One echo per thread, held back by nothing; then piscina counts each thread idle on its own turn.
  await Promise.all(Array.from({ length: threads }, async () => await pool.run({ op: 'echo', value: 1 })))
  while (pool.snapshot().idleThreads < threads) await new Promise((resolve) => setImmediate(resolve))
}

/** Resolves after the pool has handed `count` more tasks to threads (its `dispatch` event). */
export async function dispatched (pool: BackpressurePool, count: number): Promise<void> {
  await new Promise<void>((resolve) => {
    let seen = 0
    pool.on('dispatch', function onDispatch () {
      if (++seen < count) return
      pool.off('dispatch', onDispatch)
      resolve()
    })
  })
}

/** A gate for `gate-worker.mjs`: a task `{ op: 'gate', gate: gate.cell }` holds its thread until `open()`. */
export class Gate {
  readonly cell = new Int32Array(new SharedArrayBuffer(4))
  open (): void {
    Atomics.store(this.cell, 0, 1)
    Atomics.notify(this.cell, 0)
  }
}

export const FRAGILE_WORKER = fileURLToPath(new URL('../fixtures/fragile-worker.mjs', import.meta.url))

/** piscina options for `fragile-worker.mjs`: the first `healthyStarts` threads load, later ones throw. */
export function fragileWorker (healthyStarts: number): { filename: string, workerData: { starts: Int32Array, healthyStarts: number } } {
  return { filename: FRAGILE_WORKER, workerData: { starts: new Int32Array(new SharedArrayBuffer(4)), healthyStarts } }
}
export const COMMONJS_WORKER = fileURLToPath(new URL('../fixtures/commonjs-worker.cjs', import.meta.url))
export const NO_EXPORT_WORKER = fileURLToPath(new URL('../fixtures/no-export-worker.mjs', import.meta.url))
