/**
 * The probe's two doors, one matcher and one answer: the front door on every server the app listens
 * on (lib/httpchk/front-door.ts), including those `listen({ host: 'localhost' })` adds
 * (lib/httpchk/listening-servers.ts), and an `onRequest` hook for `app.inject()`, which never
 * reaches a server. Both must use the same matcher, so that no request is answered twice.
 */
import type { EventEmitter } from 'node:events'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { ConnectionTracker } from '../../lib/httpchk/connection-tracker.js'
import type { ServerStateTable } from '../../lib/haproxy/server-state.js'
import type { AnswerableResponse, ProbeResponder } from '../../lib/httpchk/answer.js'
import { installFrontDoor } from '../../lib/httpchk/front-door.js'
import { watchServersListening } from '../../lib/httpchk/listening-servers.js'
import type { MatchableRequest, ProbeKind } from '../../lib/httpchk/matcher.js'
import type { Readiness } from '../../lib/httpchk/readiness.js'

const SERVER_STATE_HEADER = 'x-haproxy-server-state'

/** What the doors need of Node's request and response objects. */
interface RawRequest extends MatchableRequest {
  readonly httpVersionMajor: number
}
interface RawResponse extends AnswerableResponse {
  setHeader: (name: string, value: string) => unknown
}

/** light-my-request marks the requests `app.inject()` makes (`isLightMyRequest`, in its README). */
interface InjectableRequest extends RawRequest {
  readonly isLightMyRequest?: boolean
}

/**
 * What the matcher reads of a request that reached the hook. light-my-request turns `url: '*'` into
 * `/*`, so an injected `OPTIONS /*` is read as `OPTIONS *`, as the server would read it; a real
 * `OPTIONS /*` passed the front door as an ordinary request and stays one (no `isLightMyRequest`).
 */
function injectedTarget (request: InjectableRequest): MatchableRequest {
  if (request.isLightMyRequest !== true || request.url !== '/*') return request
  return { method: request.method, url: '*', headers: request.headers, socket: request.socket }
}

export interface ProbeDoorsOptions {
  match: (request: MatchableRequest) => ProbeKind
  responder: ProbeResponder
  readiness: Readiness
  serverStates: ServerStateTable
  tracker: ConnectionTracker
  /** Called for every answered probe or liveness check: someone is watching. */
  onWatched: () => void
}

/** Installs both doors. Returns the function that removes the front doors, or undefined if
 * `fastify.server` already has one. */
export function installProbeDoors (fastify: FastifyInstance, options: ProbeDoorsOptions): (() => void) | undefined {
  const { match, responder, readiness, serverStates, tracker, onWatched } = options

  function answer (kind: 'probe' | 'liveness', request: RawRequest, response: RawResponse): void {
    onWatched()
    const head = request.method === 'HEAD'
    if (kind === 'liveness') {
      responder.liveness(response, readiness.state(), head)
      return
    }
    const header = request.headers[SERVER_STATE_HEADER]
    if (typeof header === 'string') serverStates.record(header)
    responder.probe(response, readiness.state(), head)
  }

  function frontDoor (rawRequest: unknown, rawResponse: unknown): boolean {
    const request = rawRequest as RawRequest
    const response = rawResponse as RawResponse
    // While draining, every HTTP/1 answer, the probe's own included, asks the client to reconnect
    // (HAProxy then picks another server, and no keep-alive connection holds the close); HTTP/2
    // sessions got GOAWAY when draining started, and `Connection` is not an HTTP/2 header.
    if (readiness.draining && request.httpVersionMajor < 2) response.setHeader('connection', 'close')
    const kind = match(request)
    if (kind === undefined) return false
    answer(kind, request, response)
    return true
  }

  const uninstallMain = installFrontDoor(fastify.server, frontDoor)
  if (uninstallMain === undefined) return undefined
  tracker.track(fastify.server)
  const uninstalls = [uninstallMain]

  // The servers `listen({ host: 'localhost' })` adds get the same door, before they bind. They are
  // recognised by Fastify's handler (`fastify.routing`, public), which Fastify gives every server it
  // creates; Fastify creates none for a `serverFactory` app, whose one server is `fastify.server`.
  const stopWatching = watchServersListening(fastify.routing, function addFrontDoor (server: EventEmitter) {
    const uninstall = installFrontDoor(server, frontDoor)
    // `fastify.server` itself, listening: it has its door already.
    if (uninstall === undefined) return
    tracker.track(server)
    uninstalls.push(uninstall)
  })
  // Every server is bound once onListen runs: nothing more to watch for.
  fastify.addHook('onListen', function stopWatchingServers (done) {
    stopWatching()
    done()
  })

  fastify.addHook('onRequest', function answerInjectedProbe (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const kind = match(injectedTarget(request.raw as unknown as InjectableRequest))
    if (kind === undefined) {
      done()
      return
    }
    reply.hijack()
    answer(kind, request.raw as unknown as RawRequest, reply.raw as unknown as RawResponse)
  })
  return function uninstallFrontDoors () {
    stopWatching()
    for (const uninstall of uninstalls) uninstall()
  }
}
