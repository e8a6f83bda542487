// Type tests of the public API, checked by `npm run typecheck` (tsc --noEmit includes test/**),
// never run by tap (package.json "tap"."exclude"). Each `@ts-expect-error` line must be an error:
// if a type is loosened so the line compiles, tsc fails with "Unused '@ts-expect-error' directive".
// `Equal` checks exact types, not mere assignability.
import Fastify from 'fastify'
import * as api from '../../index.js'
import backpressure, {
  errors,
  httpchkPlugin,
  isRetryableError,
  lanesPlugin,
  metricsPlugin,
  poolPlugin,
  type BackpressureOptions,
  type BackpressurePool,
  type Lane,
  type LaneSnapshot,
  type PoolPluginOptions,
  type PoolRunOptions,
  type PoolSnapshot,
  type PoolStats,
  type LaneRunOptions,
  type PriorityFigures,
  type RouteBackpressureConfig
} from '../../index.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectTrue<T extends true> (_proof?: T): void {}

// --- The export list, pinned: the plugins, the error classes, one isRetryableError. A new runtime
// export (an engine class, a helper) fails here until this line says so.
expectTrue<Equal<keyof typeof api, 'default' | 'backpressure' | 'poolPlugin' | 'lanesPlugin' | 'httpchkPlugin' | 'metricsPlugin' | 'errors' | 'isRetryableError' | 'RETRYABLE_ERROR_CODES'>>()
// The error classes, and nothing else, under `errors`.
expectTrue<Equal<keyof typeof errors,
  'InvalidOptionError' | 'WorkerNotFoundError' | 'QueueFullError' | 'QueueWaitExceededError' | 'TaskTimeoutError' | 'TaskAbortedError' |
  'TaskFailedError' | 'WorkerCrashedError' | 'ClosedError' | 'MetricAlreadyRegisteredError' | 'PoolDownError' | 'WorkerLoadFailedError' |
  'AgentListenFailedError' | 'AlreadyRegisteredError' | 'LaneNotFoundError' | 'SharedPortError' | 'UncoveredServerError'>>()
// The types an app names: the options, and what the decorators return.
export type PinnedTypes = [
  api.BackpressureOptions, api.PoolPluginOptions, api.LanesPluginOptions, api.LaneOptions, api.AdaptiveConcurrencyOptions,
  api.AdmissionOptions, api.DwellOptions, api.HttpchkPluginOptions, api.HttpchkAgentOptions, api.HttpchkDrainOptions,
  api.MetricsPluginOptions, api.MetricsGraphiteOptions,
  api.BackpressurePool, api.PoolRunOptions, api.PoolEvents, api.PoolSnapshot, api.PoolStats,
  api.Lane, api.LaneRunOptions, api.LaneEvents, api.LaneSnapshot, api.LaneStats, api.LaneTask<unknown>,
  api.BackpressureControl, api.ProbeState, api.HaproxyServerState, api.BackpressureMetrics, api.GraphiteStats, api.RetryableError,
  api.PriorityOption, api.RouteBackpressureConfig, api.PriorityFigures
]
// @ts-expect-error the engine classes are types, not values: an app gets its pool from the plugin
void new api.BackpressurePool()
// @ts-expect-error no more RunOptions: PoolRunOptions
export type Old = api.RunOptions

const app = Fastify()
const filename = new URL('../fixtures/worker.mjs', import.meta.url).href

// --- Registration: the README's one-liner and its variants -----------------------------------------
await app.register(backpressure, {
  pool: {
    filename,
    maxThreads: 4,
    onBusy: (snapshot) => { expectTrue<Equal<typeof snapshot, PoolSnapshot>>() },
    onFree: (snapshot) => { expectTrue<Equal<typeof snapshot, PoolSnapshot>>() }
  },
  httpchk: { method: 'OPTIONS', url: '/' },
  metrics: { exposeRoute: '/metrics' }
})
await app.register(backpressure, { pool: { filename: new URL(filename) }, httpchk: false, metrics: false })
await app.register(backpressure, { pool: { filename, maxQueue: 'auto', timeout: 2000, stricterFIFO: true, retryAfter: 2 } })
await app.register(backpressure, { pool: false, lanes: false, httpchk: { checkInterval: 1000, checkTimeout: 500, liveness: '/livez', unavailableStatusCode: 404, drain: { grace: 4000, timeout: 20_000 }, agent: { port: 0, maxQueue: 8, timeout: 1000 } }, metrics: { graphite: { interval: 5000 } } })
await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 4, retryAfter: 3, admission: {} } } })
// @ts-expect-error retryAfter is per lane, not the plugin's
await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 4 } }, retryAfter: 3 })
// @ts-expect-error an optional feature is false or an object, not true
await app.register(poolPlugin, { filename, admission: true })
// @ts-expect-error piscina's taskQueue is the pool's hand-off: refused
await app.register(poolPlugin, { filename, taskQueue: { size: 0, shift: () => null, push: () => {}, remove: () => {} } })
await app.register(poolPlugin, { filename, atomics: 'sync' })
// @ts-expect-error piscina's atomics modes only
await app.register(poolPlugin, { filename, atomics: 'fast' })
// @ts-expect-error liveness is a path
await app.register(httpchkPlugin, { liveness: { url: '/livez' } })
// @ts-expect-error durations carry no unit suffix
await app.register(httpchkPlugin, { checkIntervalMs: 1000 })
// @ts-expect-error renamed: unavailableStatusCode
await app.register(httpchkPlugin, { busyStatusCode: 404 })
// @ts-expect-error renamed: agent.maxQueue
await app.register(httpchkPlugin, { agent: { port: 0, queue: 4 } })
await app.register(poolPlugin, { filename, maxQueue: 64 })
await app.register(httpchkPlugin, { method: ['GET', 'HEAD'], url: '/healthz' })
await app.register(metricsPlugin, { prefix: 'app_' })

// pool is optional: an I/O-only app has lanes and no worker file
await app.register(backpressure, { lanes: { upstream: { concurrency: 16, maxQueue: 64, timeout: 2000 } } })
await app.register(backpressure, { lanes: { upstream: { concurrency: { adaptive: { min: 2, max: 64 } }, affectsProbe: false } }, metrics: false })
expectTrue<Equal<Flat<LaneSnapshot>, { busy: boolean, queued: number, running: number, completed: number, failed: number, concurrency: number, active: number }>>()
// @ts-expect-error a lane needs its concurrency
await app.register(backpressure, { lanes: { upstream: { maxQueue: 64 } } })
expectTrue<Equal<typeof app.lanes.upstream, Lane | undefined>>()
// @ts-expect-error pool.filename is required
await app.register(backpressure, { pool: { maxThreads: 2 } })
// @ts-expect-error filename is a string or a URL
await app.register(backpressure, { pool: { filename: 42 } })
// @ts-expect-error httpchk is an options object or false, not true
await app.register(backpressure, { pool: { filename }, httpchk: true })
// @ts-expect-error maxQueue is a number or 'auto'
await app.register(backpressure, { pool: { filename, maxQueue: 'unbounded' } })
// @ts-expect-error timeout is a number of ms
await app.register(poolPlugin, { filename, timeout: '2s' })
// @ts-expect-error onBusy receives a snapshot, not a string
await app.register(poolPlugin, { filename, onBusy: (reason: string) => reason })

const options: BackpressureOptions = { pool: { filename } }
// @ts-expect-error unknown umbrella keys are refused in an object literal
const typo: BackpressureOptions = { pool: { filename }, metric: false }
// `pool` is optional (an app may have lanes and no worker file).
const poolOptions: PoolPluginOptions | false | undefined = options.pool
expectTrue<Equal<Exclude<typeof poolOptions, false | undefined>['filename'], string | URL>>()
void typo

// --- Decorator: app.pool -----------------------------------------------------------------------------
expectTrue<Equal<typeof app.pool, BackpressurePool>>()
expectTrue<Equal<typeof app.pool.busy, boolean>>()
// @ts-expect-error busy is read-only
app.pool.busy = true

// --- Decorators: app.backpressure, app.backpressureMetrics ---------------------------------------
expectTrue<Equal<ReturnType<typeof app.backpressure.probeReason>, string | undefined>>()
expectTrue<Equal<typeof app.backpressureMetrics.route, string | null>>()
// @ts-expect-error route is read-only
app.backpressureMetrics.route = '/metrics'

// --- Snapshot and stats shapes ---------------------------------------------------------------------
expectTrue<Equal<ReturnType<BackpressurePool['snapshot']>, PoolSnapshot>>()
type Flat<T> = { [K in keyof T]: T[K] }
expectTrue<Equal<Flat<PoolSnapshot>, {
  busy: boolean
  queued: number
  idleThreads: number
  threads: number
  running: number
  completed: number
  failed: number
  concurrency: number
}>>()
expectTrue<Equal<ReturnType<BackpressurePool['stats']>, PoolStats>>()
expectTrue<Equal<PoolStats['transitions'], { busy: number, free: number }>>()

// --- run(): result generic and options -------------------------------------------------------------
expectTrue<Equal<ReturnType<typeof app.pool.run>, Promise<unknown>>>()
const rendered = app.pool.run<string>({ page: 'home' }, { signal: AbortSignal.timeout(1000), timeout: 500, name: 'default' })
expectTrue<Equal<typeof rendered, Promise<string>>>()
const runOptions: PoolRunOptions = { timeout: 0 }
void runOptions
// @ts-expect-error timeout is a number
void app.pool.run({}, { timeout: '500' })
// @ts-expect-error signal is an AbortSignal
void app.pool.run({}, { signal: new AbortController() })
// priority: an integer (checked per call), higher first; the same option on a lane.
void app.pool.run({}, { priority: 10 })
void app.pool.run({}, { priority: undefined })
// @ts-expect-error priority is a number
void app.pool.run({}, { priority: 'high' })
// @ts-expect-error no such run option
void app.pool.run({}, { weight: 1 })
expectTrue<Equal<PoolRunOptions['priority'], number | undefined>>()
expectTrue<Equal<LaneRunOptions['priority'], number | undefined>>()
// A route's default priority, in Fastify's route config (typed by module augmentation).
app.get('/critical', { config: { backpressure: { priority: 10 } } }, async (request) => await request.runInPool({}, { priority: 11 }))
app.get('/lane', { config: { backpressure: {} } }, async (request) => await request.runInLane('upstream', async () => 1, { priority: -1 }))
const routeConfig: RouteBackpressureConfig = { priority: 5 }
void routeConfig
// @ts-expect-error the route's priority is a number
app.get('/bad', { config: { backpressure: { priority: '10' } } }, async () => 'x')
// Figures by priority, and the displaced count among the failures.
expectTrue<Equal<ReturnType<BackpressurePool['priorities']>, PriorityFigures[]>>()
expectTrue<Equal<PriorityFigures, { priority: number, queued: number, refused: Record<'rejected' | 'displaced' | 'shed', number> }>>()
expectTrue<Equal<PoolStats['displaced'], number>>()

// --- Events ------------------------------------------------------------------------------------------
app.pool.on('busy', (snapshot) => { expectTrue<Equal<typeof snapshot, PoolSnapshot>>() })
app.pool.on('free', (snapshot) => { expectTrue<Equal<typeof snapshot, PoolSnapshot>>() })
app.pool.on('dispatch', (waitMs) => { expectTrue<Equal<typeof waitMs, number>>() })
// @ts-expect-error no such event
app.pool.on('overloaded', () => {})
// @ts-expect-error busy listeners receive a snapshot, not a number
app.pool.on('busy', (queued: number) => queued)

// --- Errors ------------------------------------------------------------------------------------------
const queueFull = new errors.QueueFullError()
const maybe: unknown = queueFull
if (isRetryableError(maybe)) {
  expectTrue<Equal<typeof maybe.code, string>>()
  expectTrue<Equal<typeof maybe.headers, { 'retry-after': string } | undefined>>()
}
expectTrue<Equal<typeof queueFull.code, string>>()
// @ts-expect-error InvalidOptionError needs the option, what was expected and what was received
void new errors.InvalidOptionError('pool.maxThreads')
// Every error class of `errors` is typed, none is `any`, and each builds an Error with a string code
// (test/package checks the same through the packed .d.ts).
type IsAny<T> = 0 extends 1 & T ? true : false
type ErrorClasses = typeof errors
expectTrue<Equal<{ [K in keyof ErrorClasses]: IsAny<ErrorClasses[K]> }[keyof ErrorClasses], false>>()
expectTrue<Equal<{ [K in keyof ErrorClasses]: InstanceType<ErrorClasses[K]> extends Error & { code: string, statusCode?: number } ? true : false }[keyof ErrorClasses], true>>()
expectTrue<Equal<typeof app.pool.piscina.queueSize, number>>()
expectTrue<Equal<typeof app.lanes, Record<string, Lane>>>()
