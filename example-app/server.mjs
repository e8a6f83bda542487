// Entry point of the example app: `npm start` (or `node example-app/server.mjs`).
// Configured by env variables (see config.mjs); prints one machine-readable line when ready:
//   BACKPRESSURE_READY {"url":"http://127.0.0.1:3000","port":3000,"agentPort":3001,"pid":1234}
// then human-readable lines saying where to probe it.
// SIGTERM/SIGINT are handled by the httpchk plugin (`drain.signals`): the probe and the agent report
// draining at once, the app keeps serving for the grace period (DRAIN_GRACE_MS) so that HAProxy
// stops sending first, then it closes (in-flight requests and queued tasks finish) and the process
// exits 0 because nothing is left to keep it alive. A second signal skips the rest of the grace.
import { readConfig } from './config.mjs'
import { startUpstream } from './upstream.mjs'
import { buildApp } from './app.mjs'

let config
try {
  config = readConfig()
} catch (error) {
  console.error(error.message)
  process.exit(2)
}

const upstream = config.upstreamUrl === null ? await startUpstream({ host: '127.0.0.1', delayMs: config.upstreamDelayMs }) : null
const upstreamUrl = upstream?.url ?? config.upstreamUrl
let app
try {
  app = await buildApp(config, { upstreamUrl })
  if (upstream !== null) app.addHook('onClose', async function closeUpstream () { await upstream.close() })
  // Under example-app/cluster.mjs each worker binds its own port itself (`exclusive`), rather than
  // through the primary: its probe then answers for this process alone.
  await app.listen({ host: config.host, port: config.port, exclusive: process.env.BACKPRESSURE_OWN_PORT === '1' })
} catch (error) {
  // A bad option, a port in use, ...: say why and stop (the upstream would keep the process alive).
  console.error(error)
  process.exit(1)
}
const { port } = app.server.address()
const host = config.host.includes(':') ? `[${config.host}]` : config.host
const url = `http://${host}:${port}`
const agentPort = app.backpressure.agentPort

process.stdout.write(`BACKPRESSURE_READY ${JSON.stringify({ url, port, agentPort, pid: process.pid })}\n`)
const lines = [
  '',
  'fastify-backpressure example app is ready',
  `  app        ${url}/  (GET /page, /upstream, /block?ms=500)`,
  `  probe      curl -i -X ${config.probeMethods[0]} ${url}${config.probeUrl}        (200 free, ${config.probeUnavailableStatus} busy)`,
  agentPort === null
    ? '  agent      off (AGENT_PORT=off)'
    : `  agent      node -e "require('net').connect(${agentPort}, '${config.host}').pipe(process.stdout)"   (HAProxy agent-check)`,
  `  metrics    curl ${url}/metrics`,
  `  dashboard  ${url}/dashboard`,
  `  upstream   ${upstreamUrl}${upstream === null ? '' : ` (built-in, answers after ${config.upstreamDelayMs} ms)`}`,
  `  saturate   for i in $(seq 6); do curl -s '${url}/block?ms=500' & done; curl -i -X ${config.probeMethods[0]} ${url}${config.probeUrl}`,
  '  HAProxy    backend be_app',
  '               option httpchk',
  '               http-check send-state',
  `               server app1 ${config.host}:${port} check inter 1s fall 3 rise 2 weight 100${agentPort === null ? '' : ` agent-check agent-port ${agentPort} agent-inter 1s`}`,
  '             full recipes: node example-app/haproxy-config.mjs [httpchk|disable-on-404|agent]',
  `  pool       ${config.maxThreads} threads, maxQueue ${config.maxQueue}, timeout ${config.taskTimeoutMs} ms`,
  `  lane       upstream: concurrency ${config.upstreamAdaptive === null ? config.maxThreads : `${config.upstreamAdaptive.min}..${config.upstreamAdaptive.max} (adaptive)`}, maxQueue ${config.maxQueue}, timeout ${config.upstreamTimeoutMs} ms`,
  `  stop       Ctrl-C or SIGTERM: drain (${config.drainGraceMs} ms grace once a balancer has probed), then exit; a second Ctrl-C skips the grace`,
  ''
]
process.stdout.write(lines.join('\n') + '\n')
