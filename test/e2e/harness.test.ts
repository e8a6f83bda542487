// The e2e harness itself, against plain node:http backends (no plugin involved): every recipe passes
// `haproxy -c`, HAProxy starts and reports every server exactly UP, a backend answering 503 goes
// DOWN and comes back, the stats socket parsers read real answers, and the fault proxy delays on demand.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import t, { type Test } from 'tap'
import { RECIPES, haproxyConfig } from '../../example-app/haproxy-config.mjs'
import { parseServersState, parseShowStat, socketCommand } from '../../tools/haproxy.mjs'
import { freePort } from '../../tools/ports.mjs'
import { HAPROXY, findProgram } from '../../tools/system.mjs'
import { startFaultProxy } from '../../tools/fault-proxy.mjs'
import { haproxyAvailability, haproxyBinaryOrSkip, startHaproxy } from '../helpers/haproxy.js'
import { documentedConfig, moveAddresses } from '../helpers/haproxy-sample.js'

const findHaproxy = (env: NodeJS.ProcessEnv): string | undefined => findProgram(HAPROXY, env)

const availability = haproxyAvailability()
/** Check timings short enough for a test to see servers go UP and DOWN (the agent's only with the agent recipe). */
const CHECKS = { inter: 200, fastinter: 100, downinter: 200, agentInter: 200 }

interface Backend { server: Server, port: number, status: number, hits: number, probes: string[] }

async function startBackend (test: Test): Promise<Backend> {
  const backend: Backend = { server: createServer(), port: 0, status: 200, hits: 0, probes: [] }
  backend.server.on('request', (req, res) => {
    if (req.method === 'OPTIONS' || req.url === '/' || req.url === '/healthz') {
      backend.probes.push(String(req.headers['x-haproxy-server-state'] ?? ''))
      res.statusCode = backend.status
    } else {
      backend.hits++
    }
    res.end()
  })
  backend.server.listen(0, '127.0.0.1')
  await once(backend.server, 'listening')
  backend.port = (backend.server.address() as { port: number }).port
  test.teardown(() => { backend.server.closeAllConnections(); backend.server.close() })
  return backend
}

/** A TCP server that answers "ready" to every connection: the agent-check stand-in. Returns its port. */
async function startAgent (test: Test): Promise<number> {
  const agent = createTcpServer((socket) => {
    socket.on('error', () => {}) // HAProxy may reset the agent connection once it has read the line
    socket.end('ready up 100%\n')
  })
  agent.listen(0, '127.0.0.1')
  await once(agent, 'listening')
  test.teardown(() => { agent.close() })
  return (agent.address() as { port: number }).port
}

t.test('haproxy is found (fails under CI=true when missing)', async (t) => {
  const binary = haproxyBinaryOrSkip(t)
  if (binary === undefined) return
  t.ok(findHaproxy({ PATH: '', HAPROXY_PATH: binary }), 'found through HAPROXY_PATH')
  t.equal(findHaproxy({ PATH: '/nonexistent', HAPROXY_PATH: '/nonexistent/haproxy' }), findHaproxy({ PATH: '' }), 'falls back to the sbin folders')
})

// haproxyAvailability() always searches the sbin folders, so on a machine with a system haproxy the
// missing case cannot be produced here; test/tools/system.test.ts covers the same rule with injected paths.
const systemHaproxy = findHaproxy({ PATH: '', HAPROXY_PATH: '' })
t.test('haproxyAvailability says how to install it, and whether CI requires it', { skip: systemHaproxy !== undefined && `a system haproxy exists (${systemHaproxy})` }, async (t) => {
  const missing = haproxyAvailability({ PATH: '/nonexistent', HAPROXY_PATH: '/nonexistent/haproxy', CI: 'true' })
  t.equal(missing.path, undefined)
  if (missing.path !== undefined) return
  t.equal(missing.ci, true)
  t.match(missing.message, /apt-get install -y haproxy/)
  const local = haproxyAvailability({ PATH: '/nonexistent', HAPROXY_PATH: '/nonexistent/haproxy' })
  t.equal(local.path === undefined && local.ci, false)
})

t.test('the config generator rejects what it cannot write', async (t) => {
  t.throws(() => haproxyConfig({ recipe: 'nope' as never, servers: [{ name: 'a', port: 1 }] }), /recipe must be one of/)
  t.throws(() => haproxyConfig({ servers: [] }), /non-empty array/)
  t.throws(() => haproxyConfig({ recipe: 'agent', servers: [{ name: 'a', port: 1 }] }), /needs an agentPort/)
  const config = haproxyConfig({ recipe: 'disable-on-404', servers: [{ name: 'a', port: 1 }], probePath: '/ready', inter: 300 })
  t.match(config, /http-check send meth GET uri \/ready ver HTTP\/1\.1 hdr Host localhost/)
  t.match(config, /http-check disable-on-404/)
  t.match(config, /inter 300ms/)
  t.notMatch(config, /stats socket/, 'no socket unless asked')
  t.throws(() => haproxyConfig({ recipe: 'disable-on-404', servers: [{ name: 'a', port: 1 }], checkRequest: 'OPTIONS *' }), /checkRequest/)
  t.match(haproxyConfig({ recipe: 'httpchk', servers: [{ name: 'a', port: 1 }], checkRequest: 'OPTIONS *' }), /^ {4}option httpchk OPTIONS \*\n(?! {4}http-check send hdr)/m, 'HTTP/1.0: no Host')
  t.match(haproxyConfig({ recipe: 'httpchk', servers: [{ name: 'a', port: 1 }], checkRequest: 'OPTIONS * HTTP/1.1' }), /^ {4}option httpchk OPTIONS \* HTTP\/1\.1\n {4}http-check send hdr Host localhost$/m)
  t.notMatch(config, /set-priority-class/, 'no priority class unless asked')
  const prioritized = haproxyConfig({ recipe: 'httpchk', servers: [{ name: 'a', port: 1 }], priorityClasses: [{ path: '/critical', class: -10 }, { path: '/batch/', class: 100 }] })
  t.match(prioritized, 'http-request set-priority-class int(-10) if { path_beg /critical }\n    http-request set-priority-class int(100) if { path_beg /batch/ }')
  t.throws(() => haproxyConfig({ servers: [{ name: 'a', port: 1 }], recipe: 'httpchk', priorityClasses: [{ path: '/x', class: 2048 }] }), /priority class must be an integer from -2047 to 2047; received 2048/)
  t.throws(() => haproxyConfig({ servers: [{ name: 'a', port: 1 }], recipe: 'httpchk', priorityClasses: [{ path: '/x }', class: 1 }] }), /priority class path must be a plain path/)
})

t.test('stats parsers', async (t) => {
  t.throws(() => parseShowStat('Unknown command\n'), /not a show stat answer/)
  t.throws(() => parseServersState('1\n'), /not a show servers state answer/)
  t.same(parseShowStat('# pxname,svname,status,\nbe,a,UP,\n'), [{ pxname: 'be', svname: 'a', status: 'UP' }])
})

t.test('every recipe passes haproxy -c, starts, and reads every server exactly UP', { skip: availability.path === undefined && availability.message }, async (t) => {
  const binary = availability.path as string
  for (const recipe of RECIPES) {
    await t.test(recipe, async (t) => {
      const a = await startBackend(t)
      const b = await startBackend(t)
      const agents = [await startAgent(t), await startAgent(t)]
      const haproxy = await startHaproxy(t, binary, {
        recipe,
        servers: [{ name: 'a', port: a.port, agentPort: agents[0] }, { name: 'b', port: b.port, agentPort: agents[1] }],
        ...CHECKS,
        probePath: '/'
      })
      const servers = await haproxy.servers()
      t.same(servers.map((row) => [row.svname, row.status]), [['a', 'UP'], ['b', 'UP']])
      const state = await haproxy.serversState()
      t.same(state.map((row) => [row.srv_name, row.srv_op_state]), [['a', '2'], ['b', '2']], 'srv_op_state 2 = UP')
      const response = await fetch(`${haproxy.url}/x`)
      t.equal(response.status, 200, 'traffic passes through the frontend')
      t.equal(a.hits + b.hits, 1)
      await haproxy.stop()
      t.notOk(haproxy.running, 'stopped by PID')
      await haproxy.stop()
    })
  }
})

t.test('the complete configurations docs/haproxy.md shows run as written, with only their addresses moved', { skip: availability.path === undefined && availability.message }, async (t) => {
  const binary = availability.path as string
  for (const recipe of RECIPES) {
    await t.test(recipe, async (t) => {
      const documented = await documentedConfig(recipe)
      const backends = [await startBackend(t), await startBackend(t)]
      const agents = [await startAgent(t), await startAgent(t)]
      const haproxy = await startHaproxy(t, binary, {
        write: ({ frontendPort, statsSocket }) => moveAddresses(documented, {
          frontendPort,
          statsSocket,
          servers: backends.map((backend, index) => ({ port: backend.port, agentPort: agents[index] as number }))
        }),
        // The documented timings (inter 1 s, rise 2): every server is UP within a few checks.
        readyTimeout: 15_000
      })
      t.equal(haproxy.config.split('\n').filter((line, index) => line !== documented.split('\n')[index]).length,
        4, 'only the frontend, the socket and the two server lines differ from the page')
      t.same((await haproxy.servers()).map((row) => [row.svname, row.status]), [['app1', 'UP'], ['app2', 'UP']])
      const response = await fetch(`${haproxy.url}/x`)
      t.equal(response.status, 200, 'traffic passes through the frontend')
      t.equal(backends.reduce((sum, backend) => sum + backend.hits, 0), 1)
    })
  }
})

t.test('moveServer points a server and its agent check at another address, and says what HAProxy refuses', { skip: availability.path === undefined && availability.message }, async (t) => {
  const binary = availability.path as string
  const a = await startBackend(t)
  const b = await startBackend(t)
  const haproxy = await startHaproxy(t, binary, {
    recipe: 'agent',
    servers: [{ name: 'a', port: a.port, agentPort: await startAgent(t) }, { name: 'b', port: b.port, agentPort: await startAgent(t) }],
    ...CHECKS
  })
  const replacement = await startBackend(t)
  const replacementAgent = await startAgent(t)
  const checked = once(replacement.server, 'request')
  await haproxy.moveServer('a', { port: replacement.port, agentPort: replacementAgent })
  const row = (await haproxy.serversState()).find((candidate) => candidate.srv_name === 'a')
  t.same([row?.srv_addr, row?.srv_port, row?.srv_agent_port], ['127.0.0.1', String(replacement.port), String(replacementAgent)], 'show servers state reads the new address')
  const [check] = await checked as [IncomingMessage]
  t.match(check.headers['x-haproxy-server-state'], new RegExp(`; address=127\\.0\\.0\\.1; port=${replacement.port}; name=be_app/a;`), 'HAProxy\'s health check of be_app/a reaches the new address')
  t.equal((await haproxy.waitForServer('a', (status) => status === 'UP', { timeout: 15000 })).row.status, 'UP')
  await t.rejects(haproxy.moveServer('nope', { port: replacement.port }), /haproxy refused `set server be_app\/nope addr 127\.0\.0\.1 port \d+`: No such server/)
})

t.test('a backend answering 503 goes DOWN, and UP again when it answers 200', { skip: availability.path === undefined && availability.message }, async (t) => {
  const binary = availability.path as string
  const a = await startBackend(t)
  const b = await startBackend(t)
  const haproxy = await startHaproxy(t, binary, {
    recipe: 'httpchk',
    servers: [{ name: 'a', port: a.port }, { name: 'b', port: b.port }],
    ...CHECKS,
    rise: 2,
    fall: 2
  })
  a.status = 503
  // How fast is a figure (the e2e tests print them); here only that it happens, within a generous guard.
  const down = await haproxy.waitForServer('a', (status) => status === 'DOWN', { timeout: 15000 })
  t.equal(down.row.status, 'DOWN', `DOWN after ${Math.round(down.elapsedMs)} ms`)
  t.match(a.probes.at(-1), /^(UP|DOWN)( \d+\/\d+)?; address=127\.0\.0\.1; port=\d+; name=be_app\/a; node=lb1; weight=100\/200/, 'send-state header')
  a.status = 200
  await haproxy.waitAllUp({ timeout: 15000 })
  t.equal((await haproxy.backend()).status, 'UP')
  await t.rejects(haproxy.waitForServer('a', (status) => status === 'MAINT', { timeout: 100 }), /timed out after 100 ms; servers: a=UP b=UP/)
  t.match(haproxy.output, /|/, 'output is readable')
  t.match(await socketCommand(haproxy.socketPath, 'show info'), /Version: 2\./)
})

t.test('startHaproxy reports a config that haproxy -c rejects', { skip: availability.path === undefined && availability.message }, async (t) => {
  await t.rejects(startHaproxy(t, availability.path as string, { recipe: 'httpchk', servers: [{ name: 'a', port: 1 }], balance: 'no-such-algorithm' }), /haproxy -c rejected the config/)
})

t.test('the fault proxy forwards, and delays on demand', async (t) => {
  const backend = await startBackend(t)
  const proxy = await startFaultProxy(t, { port: backend.port })
  let started = performance.now()
  t.equal((await fetch(`${proxy.url}x`)).status, 200)
  const direct = performance.now() - started
  t.equal(proxy.delayedChunks, 0)
  proxy.setDelay(300)
  t.equal(proxy.delayMs, 300)
  started = performance.now()
  t.equal((await fetch(`${proxy.url}y`)).status, 200)
  const delayed = performance.now() - started
  // A lower bound only: a loaded machine makes the request slower, never faster than the delay.
  t.ok(delayed >= 550, `request and response each held 300 ms (took ${Math.round(delayed)} ms, direct ${Math.round(direct)} ms)`)
  t.ok(proxy.delayedChunks >= 2)
  t.ok(proxy.connections >= 1)
  t.throws(() => { proxy.setDelay(-1) }, RangeError)
  proxy.setDelay(0)
  await proxy.close()
  await proxy.close()
  await t.rejects(fetch(`${proxy.url}z`))
})

t.test('the fault proxy resets the client when the target refuses', async (t) => {
  const proxy = await startFaultProxy(t, { port: await freePort() })
  await t.rejects(fetch(proxy.url))
})
