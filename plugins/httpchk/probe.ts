/**
 * The probe's two doors, one matcher and one answer:
 * - the front door, on the server's `request` event: every real request (HTTP/1.x, HTTPS, HTTP/2
 *   compat), before Fastify routes, logs, builds a request or runs any hook of any context;
 * - an `onRequest` hook, for `app.inject()`, which calls Fastify's handler without the server.
 * A request the front door lets through is not a probe for the hook either (same matcher), so no
 * request is answered twice.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { ConnectionTracker } from '../../lib/connection-tracker.js'
import type { ServerStateTable } from '../../lib/haproxy-server-state.js'
import type { AnswerableResponse, ProbeResponder } from '../../lib/probe/answer.js'
import { installFrontDoor } from '../../lib/probe/front-door.js'
import type { MatchableRequest, ProbeKind } from '../../lib/probe/matcher.js'
import type { Readiness } from '../../lib/readiness.js'

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
 * What the matcher reads of a request that reached the hook. `app.inject()` cannot send the
 * asterisk form: light-my-request resolves every URL against `http://localhost`, so `url: '*'`
 * arrives as `/*`. An injected `OPTIONS /*` is therefore read as `OPTIONS *`, so a test of an
 * Apache-style probe gets what the server would answer. A real `OPTIONS /*` passed the front door
 * as an ordinary request and stays one here (no `isLightMyRequest`).
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

/** Installs both doors. Returns the front door's uninstaller, or undefined if this server already has one. */
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
    tracker.markUsed(request.socket)
    const kind = match(request)
    if (kind !== undefined) {
      answer(kind, request, response)
      return true
    }
    // While draining, HTTP/1 clients are asked to reconnect (HAProxy then picks another server);
    // HTTP/2 sessions got GOAWAY when draining started. `Connection` is not an HTTP/2 header.
    if (readiness.draining && request.httpVersionMajor < 2) response.setHeader('connection', 'close')
    return false
  }

  const uninstall = installFrontDoor(fastify.server, frontDoor)
  if (uninstall === undefined) return undefined

  fastify.addHook('onRequest', function answerInjectedProbe (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const kind = match(injectedTarget(request.raw as unknown as InjectableRequest))
    if (kind === undefined) {
      done()
      return
    }
    reply.hijack()
    answer(kind, request.raw as unknown as RawRequest, reply.raw as unknown as RawResponse)
  })
  return uninstall
}
