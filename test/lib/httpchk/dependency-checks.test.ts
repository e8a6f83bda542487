import { once } from 'node:events'
import t from 'tap'
import { DependencyChecks } from '../../../lib/httpchk/dependency-checks.js'

t.test('each check reports its outcome every round; a hung one times out with its signal aborted; stop() aborts the round', async (t) => {
  // The checks' timers are unref'd (they never keep a process alive): hold the test open meanwhile.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => { clearInterval(keepAlive) })
  const results: Array<[string, string | undefined]> = []
  let round = 0
  let hungSignal: AbortSignal | undefined
  let secondRound: () => void = () => {}
  const checks = new DependencyChecks({
    intervalMs: 10,
    timeoutMs: 20,
    checks: {
      ok: () => { round++; if (round === 2) secondRound() },
      fails: async () => { throw new Error('refused') },
      odd: () => { throw 42 }, // eslint-disable-line no-throw-literal
      hung: async (signal) => { hungSignal = signal; await once(signal, 'abort') }
    },
    onResult (name, error) { results.push([name, error?.message]) }
  })
  t.equal(checks.size, 4)
  await checks.start()
  t.same(results.sort(), [['fails', 'refused'], ['hung', 'check "hung" timed out after 20 ms'], ['odd', 'check "odd" failed: 42'], ['ok', undefined]])
  t.equal(hungSignal?.aborted, true)
  await new Promise<void>((resolve) => { secondRound = resolve })
  checks.stop()
  t.equal(hungSignal?.aborted, true, 'the round in progress is aborted')
  const count = results.length
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(results.length, count, 'stopped: no outcome reported after stop()')
})
