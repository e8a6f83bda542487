// The probe header: with `http-check send-state`, HAProxy tells each server what it thinks of it
// (X-Haproxy-Server-State). The httpchk plugin parses it (`app.backpressure.serverStates()`, shown
// on the example app's dashboard stream); here the parsed values are compared with `show stat`.
// The header describes the state *before* the check that carries it, so each comparison is made
// once HAProxy's view has been stable for longer than a few check intervals.
import t, { type Test } from 'tap'
import { FAST_CHECKS, haproxyBinaryOrSkip, startCluster, type StatRow } from '../helpers/haproxy.js'

const { inter: INTER } = FAST_CHECKS

interface ParsedState {
  node: string
  name?: string
  state: string
  checks?: { count: number, of: number }
  weight?: { server: number, backend: number }
  seenAt: number
}

/** The app's current view of HAProxy: the next sample on its dashboard event stream. */
async function appView (url: string, after: number): Promise<ParsedState[]> {
  const controller = new AbortController()
  const response = await fetch(`${url}/dashboard/events`, { signal: controller.signal })
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = /^data: (.*)$/m.exec(frame)?.[1]
        if (!frame.startsWith('event: sample') || data === undefined) continue
        const sample = JSON.parse(data) as { haproxy: ParsedState[] }
        // Only a header received after `after` reflects the state being compared.
        if (sample.haproxy.length > 0 && sample.haproxy.every((state) => state.seenAt > after)) return sample.haproxy
      }
    }
  } finally {
    controller.abort()
  }
  throw new Error('dashboard stream ended')
}

function expectMatch (t: Test, view: ParsedState[], row: StatRow, backendWeight: number): void {
  t.equal(view.length, 1, 'one balancer node')
  const [state] = view as [ParsedState]
  t.equal(state.node, 'lb1', 'node = HAProxy global `node`')
  t.equal(state.name, `be_app/${row.svname}`, 'name = backend/server')
  t.equal(state.state, row.status, `state ${state.state} = show stat status ${row.status}`)
  t.equal(state.checks, undefined, 'no n/m while stable')
  t.same(state.weight, { server: Number(row.weight), backend: backendWeight }, `weight ${row.weight}/${backendWeight}`)
}

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('X-Haproxy-Server-State parsed by the app matches show stat, UP and DOWN', async (t) => {
    const cluster = await startCluster(t, binary, {
      recipe: 'httpchk',
      ...FAST_CHECKS,
      downinter: INTER,
      env: { POOL_MAX_THREADS: '1', POOL_MAX_QUEUE: '8', TASK_TIMEOUT_MS: '10000', AGENT_PORT: 'off', DASHBOARD_INTERVAL_MS: '100' }
    })
    const { haproxy } = cluster
    const [first, second] = cluster.instances as [typeof cluster.instances[0], typeof cluster.instances[0]]

    // Stable UP: every check since `now` carries UP.
    let now = Date.now()
    let rows = await haproxy.servers()
    for (const instance of [first, second]) {
      const row = rows.find((candidate) => candidate.svname === instance.name) as StatRow
      expectMatch(t, await appView(instance.app.url, now), row, 200)
    }

    // app1 saturated: DOWN in show stat, and every later check tells app1 it is DOWN (weight 0
    // of a backend total of 100: only app2 counts).
    const saturation = Promise.all(Array.from({ length: 3 }, async () => (await fetch(`${first.app.url}/block?ms=2500`)).status))
    await haproxy.waitForServer(first.name, (status) => status === 'DOWN', { timeout: 5000 })
    now = Date.now()
    rows = await haproxy.servers()
    const down = rows.find((row) => row.svname === first.name) as StatRow
    const view = await appView(first.app.url, now)
    t.equal(view[0]?.state, 'DOWN', 'the app learns from HAProxy that it is DOWN')
    t.equal(down.status, 'DOWN')
    t.equal(view[0]?.weight?.backend, Number(rows.find((row) => row.svname === second.name)?.weight), 'backend weight counts only the UP server')
    t.same(await saturation, [200, 200, 200])
    await haproxy.waitAllUp({ timeout: 5000 })
  })
}
