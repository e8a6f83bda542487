/**
 * An AbortSignal that fires when the client's connection closes or the caller's own signal fires.
 * One 'close' listener per socket, however many requests it carries: one per request would trip
 * Node's `MaxListenersExceededWarning` on a keep-alive socket with many pipelined requests.
 * Not `request.signal`: Fastify's listens to `request.raw` 'close', which Node emits as soon as the
 * body has been read, so it would abort every POST with a body at once (fastify/fastify-piscina#8).
 */
import type { Socket } from 'node:net'
import type { PriorityOption } from './options.js'
import { withRoutePriority } from './route-priority.js'

const watched = new WeakMap<Socket, Set<AbortController>>()

export interface ClientGone {
  readonly signal: AbortSignal
  /** Stops watching (call once the task has settled). */
  release: () => void
}

export function watchClient (socket: Socket, callerSignal: AbortSignal | undefined): ClientGone {
  const controller = new AbortController()
  const onCallerAbort = (): void => { controller.abort(callerSignal?.reason) }
  if (callerSignal?.aborted === true) onCallerAbort()
  else callerSignal?.addEventListener('abort', onCallerAbort, { once: true })
  if (socket.destroyed) {
    controller.abort(new Error('client disconnected'))
  } else {
    let set = watched.get(socket)
    if (set === undefined) {
      const tasks = new Set<AbortController>()
      set = tasks
      watched.set(socket, tasks)
      socket.once('close', function onClientGone () {
        watched.delete(socket)
        for (const task of tasks) task.abort(new Error('client disconnected'))
      })
    }
    set.add(controller)
  }
  const release = (): void => {
    callerSignal?.removeEventListener('abort', onCallerAbort)
    watched.get(socket)?.delete(controller)
  }
  return { signal: controller.signal, release }
}

/**
 * `run({ ...options, signal })` with the signal of `watchClient`, released when the call settles.
 * A `signal` that is not an AbortSignal is passed through untouched, so that `run()` refuses it
 * with its coded error (lib/executor/options.ts) instead of this helper throwing a TypeError.
 */
function runWhileClientStays<Options extends { signal?: AbortSignal | undefined }, Result> (
  socket: Socket, options: Options | undefined, run: (options: Options) => Promise<Result>
): Promise<Result> {
  const callerSignal: unknown = options?.signal
  if (callerSignal !== undefined && !(callerSignal instanceof AbortSignal)) return run(options as Options)
  const { signal, release } = watchClient(socket, callerSignal as AbortSignal | undefined)
  return run({ ...options, signal } as Options).finally(release)
}

/** What `request.runInPool()` and `request.runInLane()` do: `run` at the route's default priority
 * unless `options` sets one, stopped if the client hangs up. A bad route priority rejects. */
export function runForRequest<Options extends PriorityOption & { signal?: AbortSignal | undefined }, Result> (
  socket: Socket, routeConfig: unknown, options: Options | undefined, run: (options: Options) => Promise<Result>
): Promise<Result> {
  let withPriority: Options | undefined
  try {
    withPriority = withRoutePriority(options, routeConfig)
  } catch (error) {
    return Promise.reject(error)
  }
  return runWhileClientStays(socket, withPriority, run)
}
