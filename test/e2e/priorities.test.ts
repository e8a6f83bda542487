// Priorities end to end, over real sockets: a prefetch spike at ~10× the instance's capacity on top
// of critical traffic at ~30%, through a real HAProxy with the agent recipe (maxconn: the excess
// waits in HAProxy's queue), the example app's /critical (priority 10) and /prefetch (priority 0)
// routes, and HAProxy's own queue told to serve /critical first (`priorityClasses`:
// `http-request set-priority-class`, docs/priorities.md). The share of critical requests answered
// 200 and their latency are printed, not bounded: `npm test` holds no timing bound a loaded machine
// can break (B11 in `npm run bench` holds the bound). What is asserted holds on any machine: every
// request got an answer, the spike really overloaded the instance, and nothing failed for another
// reason than being refused.
import t from 'tap'
import { openLoopLoad } from '../../tools/load.mjs'
import { Latencies } from '../../tools/percentiles.mjs'
import { metricValue } from '../../tools/prometheus-text.mjs'
import { FAST_CHECKS, haproxyBinaryOrSkip, startCluster } from '../helpers/haproxy.js'

// One thread, 20 ms tasks: about 50 requests a second.
const TASK_MS = 20
const CAPACITY = 1000 / TASK_MS
const SECONDS = 6
const TIMINGS = { ...FAST_CHECKS, timeoutQueue: 1000 }
const APP_ENV = { POOL_MAX_THREADS: '1', POOL_MAX_QUEUE: '8', TASK_TIMEOUT_MS: '2000', UPSTREAM_AFFECTS_PROBE: '0' }

interface Answer { sentAt: number, status: number | undefined, error: string | undefined, ms: number }

const binary = haproxyBinaryOrSkip(t)
if (binary !== undefined) {
  t.test('a prefetch spike through HAProxy: critical requests are served first at both queues', async (t) => {
    const cluster = await startCluster(t, binary, {
      recipe: 'agent',
      instances: 1,
      ...TIMINGS,
      priorityClasses: [{ path: '/critical', class: -10 }],
      env: APP_ENV
    })
    const { haproxy } = cluster
    t.match(haproxy.config, 'http-request set-priority-class int(-10) if { path_beg /critical }')
    // Warm the instance's thread and connections first.
    for (let i = 0; i < 4; i++) t.equal((await fetch(`${haproxy.url}/critical?ms=1`)).status, 200)

    const started = performance.now()
    const answers = { critical: [] as Answer[], prefetch: [] as Answer[] }
    const collect = (list: Answer[]) => ({ status, error, ms }: { status?: number, error?: string, ms: number }): void => {
      list.push({ sentAt: performance.now() - ms - started, status, error, ms })
    }
    const durationMs = SECONDS * 1000
    const [critical, prefetch] = await Promise.all([
      openLoopLoad({ url: `${haproxy.url}/critical?ms=${TASK_MS}`, ratePerS: 0.3 * CAPACITY, durationMs, maxInFlight: 200, onResult: collect(answers.critical) }),
      new Promise((resolve) => setTimeout(resolve, durationMs / 3)).then(async () => await openLoopLoad({
        url: `${haproxy.url}/prefetch?ms=${TASK_MS}`,
        ratePerS: 10 * CAPACITY,
        durationMs: durationMs / 3,
        maxInFlight: 2000,
        onResult: collect(answers.prefetch)
      }))
    ])
    t.equal(critical.skipped + prefetch.skipped, 0, 'every arrival was sent')

    for (const [name, list] of Object.entries(answers)) {
      t.same(list.filter((answer) => answer.status === undefined).map((answer) => answer.error), [], `${name}: every request got an answer`)
      const statuses = new Set(list.map((answer) => answer.status))
      t.same([...statuses].filter((status) => status !== 200 && status !== 503), [], `${name}: 200, or 503 when refused`)
    }
    const prefetchRefused = answers.prefetch.filter((answer) => answer.status === 503).length
    t.ok(prefetchRefused > 0, `the spike overloaded the instance: ${prefetchRefused} of ${answers.prefetch.length} prefetch requests refused`)
    const metrics = await (await fetch(`${cluster.instances[0]?.app.url ?? ''}/metrics`)).text()
    t.equal(metricValue(metrics, 'backpressure_pool_tasks_failed_total{reason="errored"}'), 0, 'no task failed in the app')

    // Printed, not bounded: the figures of this run on this machine.
    const share = (list: Answer[]): string => `${(100 * list.filter((answer) => answer.status === 200).length / list.length).toFixed(1)}% of ${list.length}`
    const p99 = (list: Answer[], from: number, to: number): string => {
      const latencies = new Latencies()
      for (const answer of list) if (answer.status === 200 && answer.sentAt >= from && answer.sentAt < to) latencies.record(answer.ms)
      return `${latencies.percentile(99)?.toFixed(0) ?? 'n/a'} ms`
    }
    const third = durationMs / 3
    t.comment(`critical 200s: ${share(answers.critical)}; p99 ${p99(answers.critical, 0, third)} before the spike, ${p99(answers.critical, third, 2 * third)} during it`)
    t.comment(`prefetch 200s: ${share(answers.prefetch)}; app refusals by priority: ` +
      ['10', '0'].map((priority) => `${priority}: ${['rejected', 'displaced', 'shed'].map((reason) => `${reason} ${metricValue(metrics, `backpressure_pool_tasks_refused_total{priority="${priority}",reason="${reason}"}`) ?? 0}`).join(', ')}`).join('; '))
  })
}
