// example-app/kubernetes.yaml, checked against the app it describes: the container's env starts the
// example app (on 127.0.0.1 and free ports instead of 0.0.0.0:3000), and every probe path the
// Deployment names answers as the kubelet needs: startup and readiness 200 once the app is up and
// free, readiness 503 while the pool is saturated, liveness 200 all along (a busy pod is healthy).
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parseAllDocuments } from 'yaml'
import { startExampleApp, watchSamples } from '../helpers/example-app.js'

interface Probe { httpGet?: { path: string, port: string } }
interface Container {
  env: Array<{ name: string, value: string }>
  ports: Array<{ name: string, containerPort: number }>
  startupProbe?: Probe
  readinessProbe?: Probe
  livenessProbe?: Probe
}

const manifest = await readFile(new URL('../../example-app/kubernetes.yaml', import.meta.url), 'utf8')
const documents = parseAllDocuments(manifest).map((document) => document.toJS() as { kind: string, spec: { template?: { spec: { containers: Container[] } } } })
const deployment = documents.find((document) => document.kind === 'Deployment')
const container = deployment?.spec.template?.spec.containers[0]

t.test('the Deployment probes the example app where it answers', async (t) => {
  if (container === undefined) throw new Error('kubernetes.yaml has no Deployment with a container')
  const paths = {
    startup: container.startupProbe?.httpGet?.path,
    readiness: container.readinessProbe?.httpGet?.path,
    liveness: container.livenessProbe?.httpGet?.path
  }
  t.equal(paths.startup, paths.readiness, 'the startup probe is the readiness probe (the busy-aware probe)')
  t.not(paths.liveness, paths.readiness, 'liveness is never the busy probe')
  for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
    t.equal(probe?.httpGet?.port, 'http', 'each probe targets the named HTTP port')
  }
  t.ok(container.ports.some((port) => port.name === 'http'), 'the container names its port "http"')

  const env = Object.fromEntries(container.env.map(({ name, value }) => [name, value]))
  // Loopback and free ports for the test; everything else as the Deployment says.
  const app = await startExampleApp({ env: { ...env, HOST: '127.0.0.1', PORT: '0', DRAIN_GRACE_MS: '0', TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '100' } })
  t.teardown(() => app.stop())
  const get = async (path: string | undefined): Promise<number> => (await fetch(`${app.url}${path ?? '/missing-probe-path'}`)).status

  t.equal(await get(paths.startup), 200, `startupProbe GET ${String(paths.startup)} answers 200 once the app is up`)
  t.equal(await get(paths.readiness), 200, `readinessProbe GET ${String(paths.readiness)} answers 200 while free`)
  t.equal(await get(paths.liveness), 200, `livenessProbe GET ${String(paths.liveness)} answers 200`)

  const stream = new AbortController()
  t.teardown(() => { stream.abort() })
  const samples = await watchSamples(app.url, stream.signal)
  const threads = Number(env.POOL_MAX_THREADS)
  // Every thread blocked and as many tasks queued: busy, bounded in count and time.
  const requests = Array.from({ length: threads * 2 }, async () => (await fetch(`${app.url}/block?ms=800`)).status)
  await samples.waitFor((sample) => sample.kind === 'busy')
  t.equal(await get(paths.readiness), 503, 'readiness answers 503 while the pool is saturated: the pod leaves the endpoints')
  t.equal(await get(paths.liveness), 200, 'liveness still answers 200: a busy pod is not restarted')
  t.same(await Promise.all(requests), Array(threads * 2).fill(200), 'every request was served')
  await samples.waitFor((sample) => sample.kind === 'free')
  t.equal(await get(paths.readiness), 200, 'readiness answers 200 again once free')
})
