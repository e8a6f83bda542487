/**
 * Every error this package raises, each with a stable `code` and the `statusCode` Fastify's error
 * handler answers with. Codes are public API (the README's "Error codes" table): never change one's
 * meaning.
 */
// The named import: a default import of @fastify/error's `export =` typings makes tsc write
// `createError.FastifyErrorConstructor` into dist/*.d.ts, which consumers without esModuleInterop
// cannot resolve (every error class then reads as `any`); the type imported by name is named instead.
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- read by the emitted declarations, as said above
import { createError, type FastifyErrorConstructor } from '@fastify/error'

/** Every error below accepts `{ cause }` as its last argument (handled by @fastify/error). */
type Cause = [options?: { cause: unknown }]

/** An option failed validation when a plugin registered. Raised at `app.ready()`, never per request. */
export const InvalidOptionError = createError<[option: string, expected: string, received: string]>(
  'FST_BACKPRESSURE_INVALID_OPTION',
  'Invalid option "%s": expected %s, received %s',
  500,
  TypeError
)

/** The worker file given as `pool.filename` does not exist. piscina would reject the first task and
 * leave every queued task unsettled, so we refuse it when the plugin registers instead. */
export const WorkerNotFoundError = createError<[filename: string]>(
  'FST_BACKPRESSURE_WORKER_NOT_FOUND',
  'Worker file not found for option "pool.filename": %s',
  500
)

/** The executor's queue (the pool's, or a lane's) is at `maxQueue`; the task was never queued. */
export const QueueFullError = createError<Cause>(
  'FST_BACKPRESSURE_QUEUE_FULL',
  'The task queue is full',
  503
)

/** The task was shed because it waited in the queue longer than the admission policy allows. */
export const QueueWaitExceededError = createError<[waitedMs: number, targetMs: number, ...Cause]>(
  'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED',
  'The task waited %dms in the queue, over the %dms target',
  503
)

/** The task's deadline (counted from submission) passed, queued or running. */
export const TaskTimeoutError = createError<[timeoutMs: number, ...Cause]>(
  'FST_BACKPRESSURE_TASK_TIMEOUT',
  'The task did not finish within %dms',
  504
)

/** The caller's AbortSignal fired (for example: the client disconnected). */
export const TaskAbortedError = createError<Cause>(
  'FST_BACKPRESSURE_TASK_ABORTED',
  'The task was aborted',
  503
)

/** The worker function threw or rejected. The original error is kept as `cause`; its message is
 * not put in the HTTP answer, so stack traces and internals never reach a client. */
export const TaskFailedError = createError<Cause>(
  'FST_BACKPRESSURE_TASK_FAILED',
  'The task failed',
  500
)

/** The worker thread exited or crashed while running the task. piscina replaces the thread. */
export const WorkerCrashedError = createError<Cause>(
  'FST_BACKPRESSURE_WORKER_CRASHED',
  'The worker running the task exited',
  500
)

/** The executor (the pool, or a lane) is closing or closed: no new task is accepted. Past its
 * `closeTimeout`, tasks still queued or running are rejected with it too (a running lane task's
 * signal fires; a running pool task's thread is stopped). `executor` is `pool` or `lane "<name>"`. */
export const ClosedError = createError<[executor: string, ...Cause]>(
  'FST_BACKPRESSURE_CLOSED',
  'The %s is closing',
  503
)

/** A metric of ours is already in the registry given as `metrics.registry` (another app, or another
 * library, registered the same name). Nothing was registered; use another `metrics.prefix` or close
 * the other app first (closing removes our metrics from the registry). */
export const MetricAlreadyRegisteredError = createError<[name: string]>(
  'FST_BACKPRESSURE_METRIC_ALREADY_REGISTERED',
  'A metric named "%s" is already registered in the registry given as "metrics.registry"; choose another "metrics.prefix" or close the app that registered it',
  500
)

/** The pool can no longer start worker threads (a thread failed while starting and piscina stopped
 * replacing them): no task can run, so none is accepted. The health probe reports the pool down. */
export const PoolDownError = createError<[reason: string, ...Cause]>(
  'FST_BACKPRESSURE_POOL_DOWN',
  'The worker pool is down: %s',
  503
)

/** The worker file given as `pool.filename` failed to load in a worker thread (it throws on import,
 * has a syntax error, or is ESM in a CommonJS scope). Raised by `app.ready()`, so a build that
 * cannot run one task never starts serving. The loader's error is the `cause`. */
export const WorkerLoadFailedError = createError<[filename: string, reason: string, ...Cause]>(
  'FST_BACKPRESSURE_WORKER_LOAD_FAILED',
  'The worker file given as "pool.filename" failed to load: %s: %s',
  500
)

/** The agent-check listener could not bind (`httpchk.agent.port` in use, `httpchk.agent.host` not
 * resolvable or not local). Raised by `app.ready()`; the listen error is the `cause`. */
export const AgentListenFailedError = createError<[option: string, value: string, reason: string, ...Cause]>(
  'FST_BACKPRESSURE_AGENT_LISTEN_FAILED',
  'The agent-check listener could not bind: option "%s" = %s: %s',
  500
)

/** The httpchk plugin is registered twice on the same HTTP server: the front door answers the
 * probe for the whole server, from whichever context registered it, so one registration is enough. */
export const AlreadyRegisteredError = createError<[plugin: string]>(
  'FST_BACKPRESSURE_ALREADY_REGISTERED',
  'The %s plugin is already registered on this server; register it once, in any context',
  500
)

/** `request.runInLane(name, …)` named a lane that is not configured. A programming error, so it
 * answers 500 and is not retryable. */
export const LaneNotFoundError = createError<[lane: string, known: string]>(
  'FST_BACKPRESSURE_LANE_NOT_FOUND',
  'No lane named "%s" (configured: %s)',
  500
)

/** The httpchk plugin is registered in a `node:cluster` worker without `httpchk.ownPort`: workers that
 * share one port each answer the probe for themselves alone, and the balancer reaches a random one. */
export const SharedPortError = createError(
  'FST_BACKPRESSURE_SHARED_PORT',
  'Invalid option "httpchk.ownPort": expected true only when this node:cluster worker listens on a port of its own, received false. Workers sharing one port answer the probe for themselves alone: listen on one port per worker (listen({ port: base + index, exclusive: true })), give the balancer one server line per port, and set httpchk.ownPort: true',
  500
)

/** The server Fastify listens on (a `serverFactory` server) hands requests to Fastify without a
 * `request` event: the probe could not be answered at its front door and would reach the app's
 * routes and hooks. Raised by `app.ready()`. */
export const UncoveredServerError = createError(
  'FST_BACKPRESSURE_UNCOVERED_SERVER',
  'The server given by "serverFactory" hands requests to Fastify without emitting \'request\', so the httpchk plugin cannot answer the probe at its front door. Return a node:http, node:https or node:http2 server whose \'request\' event reaches Fastify\'s handler (http.createServer(handler)), or leave serverFactory out',
  500
)
