import t from 'tap'
import { createProbeResponder } from '../../../lib/httpchk/answer.js'
import { PROBE_STATES } from '../../../lib/httpchk/readiness.js'

class Recorder {
  status = 0
  headers: Record<string, unknown> = {}
  body: string | undefined = 'unset'
  writeHead (status: number, headers: Record<string, unknown>): void { this.status = status; this.headers = headers }
  end (body?: string): void { this.body = body }
}

t.test('one word per state; 200 only when free; Retry-After on the rest', async (t) => {
  const responder = createProbeResponder({ unavailableStatusCode: 503, retryAfter: 2, verbose: false, details: () => { throw new Error('not read') } })
  for (const state of PROBE_STATES) {
    const response = new Recorder()
    responder.probe(response, state, false)
    t.equal(response.status, state === 'free' ? 200 : 503, state)
    t.equal(response.body, `${state}\n`)
    t.equal(response.headers['retry-after'], state === 'free' ? undefined : '2')
    t.equal(response.headers['cache-control'], 'no-store')
  }
  const head = new Recorder()
  responder.probe(head, 'busy', true)
  t.equal(head.body, undefined, 'HEAD: no body')
  t.equal(head.headers['content-length'], 5, 'but the length of the GET body')
})

t.test('verbose: JSON with the state and the details; liveness: alive unless down', async (t) => {
  const responder = createProbeResponder({ unavailableStatusCode: 404, retryAfter: 0, verbose: true, details: () => ({ reason: 'x' }) })
  const response = new Recorder()
  responder.probe(response, 'not-ready', false)
  t.equal(response.status, 404)
  t.same(JSON.parse(response.body as string), { state: 'not-ready', reason: 'x' })
  t.equal(response.headers['retry-after'], undefined, 'retryAfter 0: no header')
  for (const [state, status, body] of [['busy', 200, 'alive\n'], ['draining', 200, 'alive\n'], ['down', 503, 'down\n']] as const) {
    const live = new Recorder()
    responder.liveness(live, state, false)
    t.same([live.status, live.body], [status, body], `liveness when ${state}`)
  }
})
