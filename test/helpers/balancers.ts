/**
 * The e2e topology behind nginx, Apache httpd and Varnish (tools/balancers.mjs runs each with the
 * configuration docs/balancers.md documents): two example-app processes on loopback ports picked
 * first (the configuration names them, so a restarted process comes back on its own port), the
 * balancer in front, open-loop client load (tools/load.mjs) with every answer recorded, and the two
 * scenarios each balancer goes through: one process saturated, then a rolling restart.
 *
 * Correctness only: every wait polls the balancer's own view or the answers with a generous
 * timeout (no event exists for a balancer's state), and the times are printed, never bounded.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { startBalancer, type Balancer, type BalancerKind } from '../../tools/balancers.mjs'
import { startExampleApp, type ExampleAppExit } from '../../tools/example-app.mjs'
import { openLoopLoad } from '../../tools/load.mjs'
import { freePort } from '../../tools/ports.mjs'
import { startInstance, type ClusterInstance, type TestContext } from './haproxy.js'

/**
 * The app and the loads for a balancer that checks actively (Apache, Varnish). A queue that holds
 * what arrives before the next check sees the process busy (neither retries a 503), and the
 * documented grace. The process left serving must never be busy itself, or the check takes it out
 * too and the balancer answers 503 to everyone until the next check: saturated, the load asks for
 * the app's index, which needs no worker thread; restarting, pool work, at most as many requests in
 * flight as one process has threads.
 */
export const ACTIVE_CHECKER_SETUP = {
  env: { POOL_MAX_THREADS: '2', POOL_MAX_QUEUE: '64', TASK_TIMEOUT_MS: '30000', DRAIN_GRACE_MS: '3000' },
  saturationLoad: { path: '/', ratePerS: 20, maxInFlight: 8 },
  restartLoad: { ratePerS: 40, maxInFlight: 2 }
}

export interface Fleet {
  balancer: Balancer
  instances: ClusterInstance[]
}

/**
 * The balancer on two ports picked first, then an instance on each; everything stopped by PID in
 * teardown. A balancer that checks (Apache, Varnish) is first seen taking both out, before the
 * instances listen: Apache shows a member `Ok` before its first check, so only a member it has
 * taken out and brought back has been probed (and its drain grace applies).
 */
export async function startFleet (t: TestContext, kind: BalancerKind, binary: string, env: Record<string, string>): Promise<Fleet> {
  const ports = [await freePort(), await freePort()]
  const balancer = await startBalancer(kind, { binary, upstreams: ports })
  t.teardown(() => balancer.stop())
  if (kind !== 'nginx') {
    await Promise.all(['app1', 'app2'].map(async (name) => await waitForMember(balancer, name, false)))
  }
  const instances: ClusterInstance[] = []
  for (const [index, port] of ports.entries()) {
    instances.push(await startInstance(t, `app${index + 1}`, { ...env, PORT: String(port), AGENT_PORT: 'off' }))
  }
  return { balancer, instances }
}

/** Polls `check` until it returns a value other than undefined; throws after `timeoutMs`. */
export async function waitFor<T> (label: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${label}`)
    await sleep(20)
  }
}

/**
 * Resolves when the balancer's own view reads `name` in (or out) of rotation; returns the time. Out
 * behind Varnish means out on an answer: a probe that timed out on a loaded machine also reads
 * sick, and a slower probe answered 200 before it can still bring the backend back.
 */
export async function waitForMember (balancer: Balancer, name: string, up: boolean, timeoutMs = 20_000): Promise<number> {
  return await waitFor(`${balancer.kind} reads ${name} ${up ? 'up' : 'out'}`, async () => {
    const member = (await balancer.members()).find((entry) => entry.name === name)
    return member?.up === up && (up || member.lastAnswered !== false) ? performance.now() : undefined
  }, timeoutMs)
}

export interface Answer {
  /** performance.now() when sent and when answered. */
  start: number
  end: number
  status?: number
  error?: string
  /** The processes that handled it, in order (nginx: the one that shed it, then the one that served it). */
  servedBy: string[]
}

export interface RecordedLoad {
  answers: Answer[]
  /** Resolves when the load has ended (its bound, or `stop()`), with what tools/load.mjs counted. */
  done: Promise<{ sent: number, skipped: number, elapsedMs: number }>
  stop: () => void
}

/** Open-loop GETs of `path` through the balancer at `ratePerS`, at most `maxInFlight` at once, for at most `maxMs`. */
export function recordLoad (balancer: Balancer, { path = '/block?ms=20', ratePerS, maxInFlight, maxMs = 120_000 }: { path?: string, ratePerS: number, maxInFlight: number, maxMs?: number }): RecordedLoad {
  const answers: Answer[] = []
  const controller = new AbortController()
  const done = openLoopLoad({
    url: `${balancer.url}${path}`,
    ratePerS,
    durationMs: maxMs,
    maxInFlight,
    // A request sent to a process that has just gone busy waits there until it is free.
    requestTimeoutMs: 30_000,
    signal: controller.signal,
    onResult ({ status, error, ms, headers }) {
      const end = performance.now()
      const header = headers?.['x-served-by']
      answers.push({ start: end - ms, end, status, error, servedBy: balancer.servedBy(typeof header === 'string' ? header : undefined) })
    }
  })
  return { answers, done, stop: () => { controller.abort() } }
}

/** Non-200 answers and errors, with when (ms after `since`) and who. */
/** Answers other than 200 to requests sent from `since` on (before both members were in rotation
 * an actively checking balancer answers 503 itself: not a failure of the scenario). */
export function failures (answers: Answer[], since: number): string[] {
  return answers.filter((answer) => answer.start >= since && answer.status !== 200)
    .map((answer) => `${answer.error ?? `status ${String(answer.status)}`} at ${Math.round(answer.start - since)} ms via ${answer.servedBy.join(',') || '?'}`)
}

/** 200 answers per process that served them (the last one named). */
export function byServer (answers: Answer[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const answer of answers) {
    if (answer.status !== 200) continue
    const server = answer.servedBy.at(-1) ?? '?'
    counts[server] = (counts[server] ?? 0) + 1
  }
  return counts
}

/** Polls a process's own probe (OPTIONS /) until it answers `status`; returns the time. */
export async function probeAnswers (url: string, status: number, timeoutMs = 20_000): Promise<number> {
  return await waitFor(`${url} probe answers ${status}`, async () => {
    const response = await fetch(`${url}/`, { method: 'OPTIONS' })
    await response.arrayBuffer()
    return response.status === status ? performance.now() : undefined
  }, timeoutMs)
}

/**
 * Saturates a process directly (not through the balancer) with `tasks` blocking requests of
 * `blockMs` each, and resolves once its own probe answers 503. `sentAt`: when they were sent, so
 * `sentAt + blockMs` is a time before which it cannot be free again.
 */
export async function saturate (url: string, tasks: number, blockMs: number): Promise<{ sentAt: number, busyAt: number, done: Promise<number[]> }> {
  const sentAt = performance.now()
  const done = Promise.all(Array.from({ length: tasks }, async () => {
    const response = await fetch(`${url}/block?ms=${blockMs}`)
    await response.arrayBuffer()
    return response.status
  }))
  done.catch(() => {})
  const busyAt = await probeAnswers(url, 503)
  return { sentAt, busyAt, done }
}

/**
 * One step of a rolling restart on a fixed port: SIGTERM (the app drains, then exits), start the
 * replacement with the same env (the same port: the balancer's configuration names it), and wait
 * until `inRotation` says the balancer sends it traffic again. Resolves with the old process's exit.
 */
export async function restartOnSamePort (instance: ClusterInstance, inRotation: (restartedAt: number) => Promise<unknown>): Promise<ExampleAppExit> {
  const exit = await instance.app.stop({ killAfterMs: 15_000 })
  instance.app = await startExampleApp({ env: instance.env })
  await inRotation(performance.now())
  return exit
}

export interface ScenarioOptions {
  kind: BalancerKind
  binary: string
  /** The example app's env (PORT and AGENT_PORT are set here). */
  env: Record<string, string>
  /** Client load through the balancer (default path `/block?ms=20`, pool work). */
  load: { path?: string, ratePerS: number, maxInFlight: number }
}

/** In rotation, as the balancer sees it: its own view (Apache, Varnish), or a request that `name` served on the first try after `since` (nginx). */
async function inRotation (fleet: Fleet, recorded: RecordedLoad, name: string, since: number): Promise<number> {
  if (fleet.balancer.kind !== 'nginx') return await waitForMember(fleet.balancer, name, true)
  return await waitFor(`a request served by ${name} at the first try`, () =>
    recorded.answers.find((answer) => answer.start > since && answer.status === 200 && answer.servedBy.length === 1 && answer.servedBy[0] === name)?.start)
}

/**
 * One process saturated under client load: Apache and Varnish take it out (their own view says so)
 * and every request sent while it is out goes to the other; nginx sends it requests that it sheds
 * with 503 and nginx retries on the other. No client sees an error, and the process comes back in
 * once free. `tasks` blocking requests of `blockMs` each saturate it.
 */
export async function saturationScenario (t: Test, options: ScenarioOptions & { tasks: number, blockMs: number }): Promise<void> {
  const { kind, binary, env, load, tasks, blockMs } = options
  const fleet = await startFleet(t, kind, binary, env)
  const { balancer } = fleet
  const [app1] = fleet.instances as [ClusterInstance, ClusterInstance]
  const started = performance.now()
  const recorded = recordLoad(balancer, load)
  t.teardown(recorded.stop)
  await inRotation(fleet, recorded, 'app1', started)
  await inRotation(fleet, recorded, 'app2', started)
  const serving = performance.now()

  const { sentAt, busyAt, done } = await saturate(app1.app.url, tasks, blockMs)
  let outMs: number | undefined
  let outAt = busyAt
  if (kind !== 'nginx') {
    outAt = await waitForMember(balancer, 'app1', false)
    outMs = outAt - busyAt
  }
  const freeAt = await probeAnswers(app1.app.url, 200)
  const backAt = await inRotation(fleet, recorded, 'app1', freeAt)
  // Served by it again: a request sent after it was free, answered by it at the first try.
  await waitFor('app1 serves again', () => recorded.answers.find((answer) => answer.start > freeAt && answer.status === 200 && answer.servedBy.join() === 'app1'))
  recorded.stop()
  const { sent, skipped } = await recorded.done
  const answers = recorded.answers

  t.same(failures(answers, serving), [], `no client error (${answers.length} answered)`)
  // Behind nginx the load is pool work too, round robin: a load request can take one of app1's
  // slots between the saturating requests, and the last of those is then shed (503), as it should be.
  const served = kind === 'nginx' ? [200, 503] : [200]
  t.same((await done).filter((status) => !served.includes(status)), [], `the saturating requests were answered ${served.join(' or ')}`)
  const retried = answers.filter((answer) => answer.servedBy.length > 1)
  if (kind === 'nginx') {
    t.ok(retried.length > 0, `requests sent to the busy process were shed and retried (${retried.length})`)
    t.same([...new Set(retried.map((answer) => answer.servedBy.join(' > ')))], ['app1 > app2'], 'each from app1 to app2')
  } else {
    t.same(retried, [], 'nothing needed a retry')
    // It cannot be free before its blocking tasks end (sentAt + blockMs): a request sent after the
    // balancer read it out and before then went to the other process.
    const whileOut = answers.filter((answer) => answer.start > outAt && answer.start < sentAt + blockMs)
    t.ok(whileOut.length > 0, `requests were sent while app1 was out (${whileOut.length})`)
    const strays = whileOut.filter((answer) => answer.servedBy.join() !== 'app2')
      .map((answer) => `${answer.servedBy.join(',')} sent ${Math.round(answer.start - outAt)} ms after out, answered ${Math.round(answer.end - outAt)} ms`)
    t.same(strays, [], `every one of them went to app2 (free no earlier than ${Math.round(sentAt + blockMs - outAt)} ms after out)`)
  }
  t.ok(answers.some((answer) => answer.start > freeAt && answer.servedBy.join() === 'app1'), 'app1 serves again once free')
  const counts = byServer(answers)
  t.comment(`${kind} saturation: sent=${sent} skipped=${skipped} answered=${answers.length} failed=${failures(answers, serving).length} ` +
    `retried=${retried.length} byServer=${JSON.stringify(counts)} ` +
    `${outMs === undefined ? '' : `busy→out=${Math.round(outMs)}ms `}free→in=${Math.round(backAt - freeAt)}ms`)
}

/**
 * Both processes restarted one at a time under client load, each on its own port: no request
 * fails. Apache and Varnish take a draining process out before it closes (the drain grace); nginx
 * retries the connections a closed process refuses.
 */
export async function rollingRestartScenario (t: Test, options: ScenarioOptions): Promise<void> {
  const { kind, binary, env, load } = options
  const fleet = await startFleet(t, kind, binary, env)
  const started = performance.now()
  const recorded = recordLoad(fleet.balancer, load)
  t.teardown(recorded.stop)
  await inRotation(fleet, recorded, 'app1', started)
  await inRotation(fleet, recorded, 'app2', started)
  const serving = performance.now()
  const pids = fleet.instances.map(({ app }) => app.pid)
  const exits: ExampleAppExit[] = []
  const steps: string[] = []
  try {
    for (const instance of fleet.instances) {
      const before = performance.now()
      exits.push(await restartOnSamePort(instance, async (restartedAt) => await inRotation(fleet, recorded, instance.name, restartedAt)))
      steps.push(`${instance.name} ${Math.round(before - started)}-${Math.round(performance.now() - started)}ms`)
    }
  } finally {
    recorded.stop()
  }
  const { sent, skipped } = await recorded.done
  const answers = recorded.answers
  const failed = failures(answers, serving)
  t.same(failed, [], `no failed request (${answers.length} answered)`)
  if (failed.length > 0) t.comment(`${kind} restarts at ${steps.join(', ')}; its logs:\n${(await fleet.balancer.logs()).split('\n').slice(-80).join('\n')}`)
  t.ok(answers.length > 50, `load ran throughout (${answers.length} answers)`)
  t.same(exits, [{ code: 0, signal: null }, { code: 0, signal: null }], 'each old process drained and exited 0')
  t.notSame(fleet.instances.map(({ app }) => app.pid), pids, 'new processes')
  const counts = byServer(answers)
  t.ok((counts.app1 ?? 0) > 0 && (counts.app2 ?? 0) > 0, `both served: ${JSON.stringify(counts)}`)
  const retried = answers.filter((answer) => answer.servedBy.length > 1).length
  t.comment(`${kind} rolling restart: sent=${sent} skipped=${skipped} answered=${answers.length} failed=${failures(answers, serving).length} ` +
    `retried=${retried} byServer=${JSON.stringify(counts)} restarted (from SIGTERM to back in rotation): ${steps.join(', ')}`)
}
