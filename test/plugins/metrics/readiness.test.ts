// The readiness gauges read what the probe reads: the state, and each balancer node's view.
import t from 'tap'
import Fastify from 'fastify'
import { Gauge, Registry } from 'prom-client'
import backpressure from '../../../index.js'
import lanesPlugin from '../../../plugins/lanes/index.js'
import metricsPlugin from '../../../plugins/metrics/index.js'
import { startApp, THREAD_DEFAULTS, WORKER, withPlugin } from '../../helpers/app.js'
import { haproxyProbe } from '../../helpers/raw-client.js'

t.test('probe_state and balancer_server_up{node}, read at scrape time', async (t) => {
  const { app, url, port } = await startApp(t, withPlugin(backpressure, { pool: { filename: WORKER, ...THREAD_DEFAULTS, minThreads: 1, maxThreads: 1 }, metrics: { exposeRoute: '/metrics' } }))
  const scrape = async (): Promise<string> => await (await fetch(`${url}/metrics`)).text()

  const before = await scrape()
  t.match(before, /^backpressure_probe_state\{state="free"\} 1$/m)
  t.match(before, /^backpressure_probe_state\{state="busy"\} 0$/m)
  t.notMatch(before, /^backpressure_balancer_server_up\{/m, 'no balancer has probed yet')

  for (const [node, state] of [['lb1', 'UP'], ['lb2', 'DOWN'], ['lb3', 'UP 1/2'], ['lb4', 'NOLB']]) {
    await haproxyProbe(port, [`X-Haproxy-Server-State: ${state}; name=be/app1; node=${node}; weight=1/2; scur=0/0; qcur=0`])
  }
  app.backpressure.setNotReady('maintenance')
  const after = await scrape()
  t.match(after, /^backpressure_probe_state\{state="not-ready"\} 1$/m)
  t.match(after, /^backpressure_probe_state\{state="free"\} 0$/m)
  for (const [node, up] of [['lb1', 1], ['lb2', 0], ['lb3', 1], ['lb4', 0]]) {
    t.match(after, new RegExp(`^backpressure_balancer_server_up\\{node="${node}"\\} ${up}$`, 'm'), `${node}: ${up}`)
  }
})

t.test('without the httpchk plugin the readiness gauges have no series; a name clash registers nothing', async (t) => {
  const registry = new Registry()
  await startApp(t, {
    pool: false,
    listen: false,
    setup: async (app) => {
      await app.register(lanesPlugin, { lanes: { upstream: { concurrency: 1 } } })
      await app.register(metricsPlugin, { registry })
    }
  })
  const text = await registry.metrics()
  t.notMatch(text, /^backpressure_probe_state\{/m)
  t.match(text, /^backpressure_lane_queue_depth/m)

  const clashing = new Registry()
  const theirs = new Gauge({ name: 'backpressure_probe_state', help: 'someone else', registers: [clashing] })
  const clash = Fastify()
  t.teardown(() => clash.close())
  await clash.register(lanesPlugin, { lanes: { upstream: { concurrency: 1 } } })
  clash.register(metricsPlugin, { registry: clashing })
  await t.rejects(async () => { await clash.ready() }, { code: 'FST_BACKPRESSURE_METRIC_ALREADY_REGISTERED' })
  t.same(clashing.getMetricsAsArray().map((metric) => metric.name), ['backpressure_probe_state'], 'nothing of ours was left registered')
  t.equal(clashing.getSingleMetric('backpressure_probe_state'), theirs)
})
