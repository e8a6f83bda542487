/**
 * Fuzzing the probe's HTTP surface and the agent port with a seeded PRNG (bounded counts): no
 * crash, no 500 from the probe, nothing but the exact probe gets a probe answer, and the app's
 * own routes keep working.
 */
import { connect } from 'node:net'
import t from 'tap'
import { startApp, TWO_THREADS } from '../../helpers/app.js'
import { agentCheck, rawHttp } from '../../helpers/raw-client.js'
import { seededRandom } from '../../helpers/random.js'
import { runs } from '../../helpers/tier.js'

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed)
// The unit loop (TEST_UNIT_LOOP=1) runs a quarter of the iterations, from the same seed.
const REQUESTS = runs(400, 100)
const AGENT_INPUTS = runs(200, 50)

const random = seededRandom(SEED)
const int = (n: number): number => Math.floor(random() * n)
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T
const printable = (length: number): string => Array.from({ length }, () => String.fromCharCode(0x21 + int(94))).join('')

const METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'PATCH', 'TRACE', 'CONNECT', 'options', 'Options', 'PROPFIND', 'XYZ']
const PATH_PARTS = ['/', '//', '/./', '/../', '..', '.', '%2e', '%2F', '%2f', '%00', '%ff', '%', '%zz', ';', '#', '?', '?a=1', '&', '+', ' ', '\\', 'healthz', 'app', 'ä', '*']
const STATE_HEADERS = [
  'UP 1/2; address=127.0.0.1; port=1; name=be/a; node=lb1; weight=100/200; scur=0/0; qcur=0',
  'DOWN; node=lb2', 'NOLB 1/3; node=lb3; throttle=50%', 'no check', 'UP;;;;', ';', '', 'UP; weight=/', 'UP 99999999999/1',
  'UP; node=' + 'n'.repeat(300), 'x'.repeat(2000)
]

// Near misses of the probe's path, so that a good share of the fuzz lands on or beside it.
const NEAR_PROBE = ['/', '*', '/*', '*?x=1', '/?', '/?x=1', '//', '/./', '/.', '/%2F', '/%2f', '/%2e', '/?/../', '/;', '/%20', '/..', '/#', '/?' + 'q'.repeat(4000)]

function randomPath (): string {
  if (random() < 0.35) return pick(NEAR_PROBE)
  if (random() < 0.05) return '/' + 'a'.repeat(1000 + int(7000))
  let path = random() < 0.9 ? '/' : ''
  const parts = 1 + int(5)
  for (let i = 0; i < parts; i++) path += pick(PATH_PARTS)
  return path
}

function randomHeaders (): string[] {
  const headers: string[] = []
  const count = int(6)
  for (let i = 0; i < count; i++) {
    const kind = int(6)
    if (kind === 0) headers.push(`X-Haproxy-Server-State: ${random() < 0.5 ? pick(STATE_HEADERS) : printable(int(200))}`)
    else if (kind === 1) headers.push(`X-Fuzz-${int(3)}: ${printable(int(100))}`)
    else if (kind === 2) headers.push(`X-Huge: ${'h'.repeat(int(20_000))}`)
    else if (kind === 3 && random() < 0.3) headers.push(printable(int(40)))
    else if (kind === 4) headers.push('Access-Control-Request-Method: GET')
    else headers.push('Host: localhost')
  }
  return headers
}

/** The probe is exactly `OPTIONS /` (query ignored) or `OPTIONS *`, not a CORS preflight. */
function isExactProbe (method: string, path: string, headers: string[]): boolean {
  const query = path.indexOf('?')
  const bare = query === -1 ? path : path.slice(0, query)
  return method === 'OPTIONS' && (bare === '/' || path === '*') && !headers.some((h) => /^access-control-request-method:/i.test(h))
}

t.test('random requests: no crash, no 500, only the exact probe gets a probe answer', async (t) => {
  t.comment(`seed ${SEED}`)
  const { app, port } = await startApp(t, {
    pool: TWO_THREADS,
    httpchk: {},
    setup (app) {
      app.get('/app', async () => 'app')
    }
  })
  const statuses = new Map<number, number>()
  let probes = 0
  for (let i = 0; i < REQUESTS; i++) {
    const method = random() < 0.4 ? 'OPTIONS' : pick(METHODS)
    const path = randomPath()
    const headers = randomHeaders()
    const version = random() < 0.8 ? 'HTTP/1.0' : 'HTTP/1.1'
    const request = `${method} ${path} ${version}\r\n${headers.map((h) => `${h}\r\n`).join('')}${version === 'HTTP/1.1' ? 'Connection: close\r\n' : ''}\r\n`
    const answer = await rawHttp(port, request, { timeoutMs: 10_000 })
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
    const label = JSON.stringify(request.slice(0, 120))
    if (answer.status >= 500 && answer.status !== 503) t.fail(`${answer.status} for ${label}`)
    const probeAnswer = answer.body === 'free\n' || answer.body === 'busy\n'
    if (probeAnswer) {
      probes++
      if (!isExactProbe(method, path, headers)) t.fail(`probe answer for a non-probe request ${label}`)
    }
  }
  t.comment(`status counts: ${JSON.stringify(Object.fromEntries(statuses))}, probe answers: ${probes}`)
  t.notOk(statuses.has(500), 'no 500')
  t.ok(probes > 0, 'the fuzz reached the probe')
  t.ok(app.backpressure.serverStates().length <= 4, 'the server-state table stays bounded')
  // The app is unaffected.
  const after = await rawHttp(port, 'GET /app HTTP/1.0\r\n\r\n')
  t.equal(after.status, 200)
  t.equal(after.body, 'app')
  t.equal((await rawHttp(port, 'OPTIONS / HTTP/1.0\r\nX-Haproxy-Server-State: UP; node=lbX\r\n\r\n')).status, 200)
  t.equal(app.backpressure.serverState('lbX')?.state, 'UP')
})

t.test('random bytes on the agent port: always one well-formed line, never a crash', async (t) => {
  const { app } = await startApp(t, { pool: TWO_THREADS, httpchk: { agent: { port: 0, timeout: 2000 } } })
  const port = app.backpressure.agentPort as number
  let hangUps = 0
  for (let i = 0; i < AGENT_INPUTS; i++) {
    const bytes = Buffer.from(Array.from({ length: int(4096) }, () => int(256)))
    if (random() < 0.2) {
      // Connect, write, and vanish without reading.
      await new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port })
        socket.on('error', () => {})
        socket.on('close', () => { resolve() })
        socket.on('connect', () => { socket.write(bytes); socket.destroy() })
      })
      hangUps++
      continue
    }
    const line = await agentCheck(port, bytes)
    t.match(line, /^up ready \d{1,3}% maxconn:\d+\n$/, `reply ${i}`)
  }
  t.ok(hangUps > 0)
  t.equal(await agentCheck(port), 'up ready 100% maxconn:4\n', 'still answering after the fuzz')
})
