/**
 * The probe's answer, written on Node's own response in the tick the request arrives: no Fastify
 * request or reply, no log line, no hook. Nothing may wait for a later tick: a checker that
 * half-closes after its request must still get the answer. Only `writeHead` and `end`, and no
 * connection-specific header, so HTTP/1, HTTP/2 compat and light-my-request responses all work.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { PROBE_STATES, STATE_TABLE, type ProbeState } from './readiness.js'

export interface AnswerableResponse {
  writeHead: (status: number, headers: OutgoingHttpHeaders) => unknown
  end: (body?: string) => unknown
}

export interface ProbeAnswerOptions {
  /** Status for every state but `free`. */
  unavailableStatusCode: number
  /** `Retry-After` seconds on answers other than 200; 0 leaves it out. */
  retryAfter: number
  /** A JSON body with the state and `details()` instead of one word. */
  verbose: boolean
  /** Extra figures for verbose answers (read only when `verbose`). */
  details: () => Record<string, unknown>
}

interface Answer { status: number, headers: OutgoingHttpHeaders, body: string }

export interface ProbeResponder {
  /** Answers the health probe for `state`. `head`: no body (HEAD requests). */
  probe: (response: AnswerableResponse, state: ProbeState, head: boolean) => void
  /** Answers the liveness check: 200 unless the state is `down`. */
  liveness: (response: AnswerableResponse, state: ProbeState, head: boolean) => void
}

export function createProbeResponder (options: ProbeAnswerOptions): ProbeResponder {
  const { unavailableStatusCode, retryAfter, verbose, details } = options

  function build (status: number, body: string, contentType: string): Answer {
    const headers: OutgoingHttpHeaders = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store'
    }
    if (status !== 200 && retryAfter > 0) headers['retry-after'] = String(retryAfter)
    return { status, headers, body }
  }

  const statusOf = (state: ProbeState): number => STATE_TABLE[state].probeOk ? 200 : unavailableStatusCode
  // Non-verbose answers are constant: built once, written as they are.
  const probeAnswers = new Map<ProbeState, Answer>()
  for (const state of PROBE_STATES) probeAnswers.set(state, build(statusOf(state), `${state}\n`, 'text/plain; charset=utf-8'))
  const alive = build(200, 'alive\n', 'text/plain; charset=utf-8')
  const dead = build(503, 'down\n', 'text/plain; charset=utf-8')

  function write (response: AnswerableResponse, answer: Answer, head: boolean): void {
    response.writeHead(answer.status, answer.headers)
    response.end(head ? undefined : answer.body)
  }

  return {
    probe (response, state, head) {
      const answer = verbose
        ? build(statusOf(state), JSON.stringify({ state, ...details() }), 'application/json; charset=utf-8')
        : probeAnswers.get(state) as Answer
      write(response, answer, head)
    },
    liveness (response, state, head) {
      write(response, state === 'down' ? dead : alive, head)
    }
  }
}
