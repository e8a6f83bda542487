// docs/metrics.md cannot drift from the metrics: its tables name every series the metrics plugin can
// register exactly once, and nothing else; every Graphite path a real pool and lane push matches a
// documented path, and every documented pool path is pushed.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Registry } from 'prom-client'
import { DEFAULT_QUEUE_WAIT_BUCKETS, ExecutorMetrics, LANES, POOL } from '../../lib/metrics/executor-metrics.js'
import { ReadinessMetrics } from '../../lib/metrics/readiness-metrics.js'
import { createLane, createPool } from '../helpers/pool.js'
import { ROOT } from '../helpers/packed-package.js'

const PREFIX = 'backpressure_'
const text = await readFile(join(ROOT, 'docs/metrics.md'), 'utf8')

/** The text from the line starting with `from` to the line starting with `to`. */
function section (from: string, to: string): string {
  const start = text.indexOf(`\n${from}`)
  const end = text.indexOf(`\n${to}`, start)
  if (start === -1 || end === -1) throw new Error(`no section from "${from}" to "${to}" in docs/metrics.md`)
  return text.slice(start, end)
}

/** The backticked names in a section's table cells (a name ends at its labels). */
function tableNames (markdown: string, pattern: RegExp): string[] {
  const cells = markdown.split('\n').filter((line) => line.startsWith('| ')).flatMap((line) => line.split(/(?<!\\)\|/))
  return cells.flatMap((cell) => [...cell.matchAll(/`([^`{]+)[`{]/g)].map((match) => match[1] as string)).filter((name) => pattern.test(name))
}

t.test('the metrics tables name every series once', async (t) => {
  const registry = new Registry()
  const options = { registry, prefix: PREFIX, queueWaitBuckets: DEFAULT_QUEUE_WAIT_BUCKETS }
  // With no executor the series have no samples, but every name is registered.
  const built = [new ExecutorMetrics(POOL, [], options), new ExecutorMetrics(LANES, [], options), new ReadinessMetrics({ registry, prefix: PREFIX, source: () => undefined })]
  t.teardown(() => { for (const metrics of built) metrics.close() })
  const names = built.flatMap((metrics) => metrics.names)
  const documented = tableNames(section('## Metrics\n', '### By priority'), new RegExp(`^${PREFIX}`))
  t.same([...documented].sort(), [...names].sort(), 'the tables name exactly the series, each once')
})

t.test('every Graphite path pushed is documented, and every documented pool path is pushed', async (t) => {
  const table = section('| path |', 'How the push behaves')
  const documented = tableNames(table, /^(pool|lanes)\./)
  const patterns = documented.map((path) => new RegExp(`^${path.replaceAll('.', '\\.').replaceAll('…', '.+').replace(/<[a-z]+>/g, '[^.]+')}$`))

  const pool = createPool(t, { minThreads: 1, maxThreads: 1 })
  const lane = createLane(t, { concurrency: 1 }, {}, 'db')
  const options = { registry: new Registry(), prefix: PREFIX, queueWaitBuckets: DEFAULT_QUEUE_WAIT_BUCKETS }
  const poolMetrics = new ExecutorMetrics(POOL, [pool], options)
  const laneMetrics = new ExecutorMetrics(LANES, [lane], options)
  t.teardown(() => { poolMetrics.close(); laneMetrics.close() })
  // Closed, each refuses a task: the paths by priority are pushed too.
  await Promise.all([pool.close(), lane.close()])
  await t.rejects(pool.run({ op: 'echo' }, { priority: 3 }), { code: 'FST_BACKPRESSURE_CLOSED' })
  await t.rejects(lane.run(async () => {}, { priority: 3 }), { code: 'FST_BACKPRESSURE_CLOSED' })

  const poolPaths = (await poolMetrics.graphiteFigures()).map(([path]) => path)
  const lanePaths = (await laneMetrics.graphiteFigures()).map(([path]) => path)
  t.ok(poolPaths.includes('pool.priority.3.tasks.refused.rejected') && lanePaths.includes('lanes.db.priority.3.tasks.refused.rejected'), 'the paths by priority are among them')
  for (const path of [...poolPaths, ...lanePaths]) t.ok(patterns.some((pattern) => pattern.test(path)), `${path} is documented`)
  for (const [index, path] of documented.entries()) {
    if (path.startsWith('pool.')) t.ok(poolPaths.some((pushed) => patterns[index]?.test(pushed)), `${path} is pushed`)
  }
  // A lane's paths are the pool's under lanes.<name>, its concurrency in place of the threads.
  for (const path of lanePaths) {
    const asPool = path.replace(/^lanes\.db\./, 'pool.')
    t.ok(asPool === 'pool.concurrency' || poolPaths.includes(asPool), `${path} is the pool's ${asPool}`)
  }
})
