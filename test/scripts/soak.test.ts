/**
 * The short soak (issue 4): `scripts/soak.mjs --duration 6 --short` against the example app over
 * real HTTP, at 2.5× the pool's throughput. Looser bounds than `npm run soak` (60 s). The soak
 * starts the app and stops it by PID; this test starts the soak and stops it by PID.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import '../helpers/process-guards.js'

const SOAK = fileURLToPath(new URL('../../scripts/soak.mjs', import.meta.url))

t.test('short soak: bounded queue, flat memory, every answer 200 or 503', async (t) => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, [SOAK, '--duration', '6', '--short', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid as number, 'SIGTERM')
      await exited
    }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  await exited
  const line = stdout.split('\n').find((l) => l.startsWith('SOAK_REPORT '))
  t.ok(line, `the soak printed its report${line === undefined ? `: ${stderr}` : ''}`)
  if (line === undefined) return
  const report = JSON.parse(line.slice('SOAK_REPORT '.length)) as {
    checks: Record<string, boolean>
    requests: { sent: number, answers: Record<string, number> }
    latencyMs: { p50: number, p99: number, p99LimitMs: number }
    memoryMB: { rss: { changePct: number }, heapUsed: { changePct: number } }
    eventLoopDelayMs: { p99: number }
  }
  t.comment(`short soak: ${JSON.stringify(report)}`)
  t.ok(report.requests.sent > 500, `real load (${report.requests.sent} requests)`)
  t.ok(report.checks.someAccepted, 'requests were served')
  t.ok(report.checks.someShed, 'overload was shed with 503')
  t.ok(report.checks.loadHeld, 'the load generator kept its rate')
  t.ok(report.checks.rssFlat, `RSS flat (${report.memoryMB.rss.changePct}%)`)
  t.ok(report.checks.heapFlat, `heap flat (${report.memoryMB.heapUsed.changePct}%)`)
  // The pool's own FIFO queue (lib/pool.ts) serves every task in arrival order, signal or not:
  // accepted requests wait about maxQueue × task / threads, and none reaches its 504 deadline.
  t.ok(report.checks.p99Bounded, `accepted p99 ${report.latencyMs.p99} ms <= ${report.latencyMs.p99LimitMs} ms`)
  t.ok(report.checks.noErrors, `only 200 and 503 answers: ${JSON.stringify(report.requests.answers)}`)
})
