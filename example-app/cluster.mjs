// Several processes on one host, one port each: the recipe of docs/processes.md.
//
//   WORKERS=3 BASE_PORT=3000 node example-app/cluster.mjs
//
// Why not one shared port: with node:cluster's usual setup every worker listens on the same port and
// the primary hands each connection to one of them, so the balancer's probe reaches a random process
// and its answer says nothing about the others (the httpchk plugin refuses to start that way). Here
// worker i listens on BASE_PORT + 2i (its agent-check on BASE_PORT + 2i + 1), the balancer gets one
// `server` line per process, and each line's check tells the truth about that process.
//
// The primary prints, once every worker is ready:
//   CLUSTER_READY {"servers":[{"name":"app1","port":3000,"agentPort":3001,"pid":…},…]}
// followed by the HAProxy `server` lines. SIGTERM/SIGINT to the primary are passed to every worker,
// which drains (probe and agent say so, the grace, then close) and exits; the primary exits after the
// last one. A worker that dies otherwise is replaced on the same ports.
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { createInterface } from 'node:readline'

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS ?? availableParallelism())
  const base = Number(process.env.BASE_PORT ?? 3000)
  const host = process.env.HOST ?? '127.0.0.1'
  if (!Number.isInteger(workers) || workers < 1 || !Number.isInteger(base) || base < 1 || base + 2 * workers > 65536) {
    console.error(`WORKERS must be a positive integer and BASE_PORT + 2 × WORKERS at most 65536; received WORKERS=${process.env.WORKERS} BASE_PORT=${process.env.BASE_PORT}`)
    process.exit(2)
  }
  // Workers' output comes through the primary, which reads their ready lines.
  cluster.setupPrimary({ silent: true })
  const servers = new Map()
  let stopping = false

  const start = (index) => {
    const port = base + 2 * index
    const env = { PORT: String(port), AGENT_PORT: String(port + 1), HOST: host, BACKPRESSURE_OWN_PORT: '1' }
    const worker = cluster.fork(env)
    // A message to a worker that has just died (EPIPE) is that worker's end, handled on 'exit'.
    worker.on('error', (error) => { console.error(`worker app${index + 1}: ${error.message}`) })
    worker.process.stderr.pipe(process.stderr)
    createInterface({ input: worker.process.stdout }).on('line', (line) => {
      if (!line.startsWith('BACKPRESSURE_READY ')) return
      const ready = JSON.parse(line.slice('BACKPRESSURE_READY '.length))
      servers.set(index, { name: `app${index + 1}`, host, port: ready.port, agentPort: ready.agentPort, pid: ready.pid })
      if (servers.size === workers) announce()
    })
    worker.once('exit', (code, signal) => {
      if (stopping) return
      console.error(`worker app${index + 1} (pid ${worker.process.pid}) exited (${signal ?? code}); starting a new one on port ${port}`)
      start(index)
    })
  }

  const announce = () => {
    const list = [...servers.entries()].sort(([a], [b]) => a - b).map(([, server]) => server)
    process.stdout.write(`CLUSTER_READY ${JSON.stringify({ servers: list })}\n`)
    for (const { name, host, port, agentPort } of list) {
      process.stdout.write(`  server ${name} ${host}:${port} check inter 1s fall 3 rise 2 weight 100 agent-check agent-port ${agentPort} agent-inter 1s\n`)
    }
  }

  const stop = (signal) => {
    if (stopping) {
      // A second signal: pass it on, so the workers skip the rest of their grace.
      for (const worker of Object.values(cluster.workers)) worker.process.kill(signal)
      return
    }
    stopping = true
    for (const worker of Object.values(cluster.workers)) worker.process.kill(signal)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  cluster.on('exit', () => {
    if (stopping && Object.values(cluster.workers).every((worker) => worker === undefined || worker.isDead())) process.exit(0)
  })

  for (let index = 0; index < workers; index++) start(index)
} else {
  await import('./server.mjs')
  // Listening now. The IPC channel to the primary would keep the worker alive after its app has
  // closed: from here the worker lives as long as its server does, and exits by itself once
  // drained, like a lone process.
  process.channel?.unref()
}
