// lib/executor/options.ts, called directly: the options the pool and every lane share
// (`executorOptions`, `maxQueueOption`) and the options of one run() call (`checkRunOptions`,
// `checkPriority`, `checkRunName`). Each bad value is refused with the option's path and the value
// received; the good ones come out in the engine's shape, every duration in ms.
import t from 'tap'
import { checkPriority, checkRunName, checkRunOptions, defaultRunOptions, executorOptions, maxQueueOption } from '../../../lib/executor/options.js'
import { refusal, valueAt } from '../../helpers/options.js'

t.test('executorOptions: each bad shared option is refused, naming its path under the prefix and the value received', async (t) => {
  const invalid: Array<[options: Record<string, unknown>, option: string]> = [
    [{ timeout: -1 }, 'lanes.up.timeout'],
    [{ timeout: 2 ** 31 }, 'lanes.up.timeout'],
    [{ timeout: '5s' }, 'lanes.up.timeout'],
    [{ timeout: NaN }, 'lanes.up.timeout'],
    [{ closeTimeout: -5 }, 'lanes.up.closeTimeout'],
    [{ closeTimeout: 1.5 }, 'lanes.up.closeTimeout'],
    [{ closeTimeout: 2 ** 31 }, 'lanes.up.closeTimeout'],
    [{ admission: 'on' }, 'lanes.up.admission'],
    [{ admission: true }, 'lanes.up.admission'],
    [{ admission: null }, 'lanes.up.admission'],
    [{ admission: { target: -1 } }, 'lanes.up.admission.target'],
    [{ admission: { interval: 0 } }, 'lanes.up.admission.interval'],
    [{ admission: { window: 5 } }, 'lanes.up.admission.window'],
    [{ dwell: 10 }, 'lanes.up.dwell'],
    [{ dwell: { busy: -1 } }, 'lanes.up.dwell.busy'],
    [{ dwell: { free: 'long' } }, 'lanes.up.dwell.free'],
    [{ dwell: { both: 1 } }, 'lanes.up.dwell.both'],
    [{ rejectStatusCode: 500 }, 'lanes.up.rejectStatusCode'],
    [{ rejectStatusCode: '429' }, 'lanes.up.rejectStatusCode'],
    [{ retryAfter: -1 }, 'lanes.up.retryAfter'],
    [{ retryAfter: 1.5 }, 'lanes.up.retryAfter'],
    [{ retryAfter: 86_401 }, 'lanes.up.retryAfter']
  ]
  for (const [options, option] of invalid) {
    // `lanes.up.dwell.busy` is `options.dwell.busy`: the path below `up`.
    const value = valueAt(options, option.slice('lanes.'.length))
    t.throws(() => executorOptions('lanes.up', options), refusal(option, value), JSON.stringify(options))
  }
})

t.test('executorOptions: the defaults, and every duration in ms', async (t) => {
  t.same(executorOptions('pool', {}), {
    timeoutMs: 0,
    closeTimeoutMs: 30_000,
    admission: undefined,
    dwell: { toBusyMs: 0, toFreeMs: 0 },
    rejectStatusCode: 503,
    retryAfter: 1
  })
  t.same(executorOptions('pool', { timeout: 2000, closeTimeout: Infinity, admission: {}, dwell: { busy: 100, free: 500 }, rejectStatusCode: 429, retryAfter: 0 }), {
    timeoutMs: 2000,
    closeTimeoutMs: Infinity,
    admission: { targetMs: 5, intervalMs: 100 },
    dwell: { toBusyMs: 100, toFreeMs: 500 },
    rejectStatusCode: 429,
    retryAfter: 0
  })
  t.same(executorOptions('pool', { admission: false }).admission, undefined, 'false: no admission')
  t.same(executorOptions('pool', { admission: { target: 10, interval: 200 } }).admission, { targetMs: 10, intervalMs: 200 })
})

t.test('maxQueueOption: an integer >= 0 or Infinity', async (t) => {
  for (const value of [-1, 2.5, 'big', NaN, null]) {
    t.throws(() => maxQueueOption('pool.maxQueue', value), refusal('pool.maxQueue', value), String(value))
  }
  t.same([maxQueueOption('q', undefined), maxQueueOption('q', 0), maxQueueOption('q', 3), maxQueueOption('q', Infinity)], [Infinity, 0, 3, Infinity])
})

t.test("checkRunOptions: one call's signal, timeout and priority", async (t) => {
  const defaults = defaultRunOptions(250)
  const invalid: Array<[options: unknown, option: string, value: unknown]> = [
    [null, 'run.options', null],
    ['fast', 'run.options', 'fast'],
    [{ signal: {} }, 'run.signal', {}],
    [{ timeout: -1 }, 'run.timeout', -1],
    [{ timeout: NaN }, 'run.timeout', NaN],
    [{ timeout: null }, 'run.timeout', null],
    [{ timeout: 2 ** 31 }, 'run.timeout', 2 ** 31],
    [{ priority: 1.5 }, 'run.priority', 1.5],
    [{ priority: 1001 }, 'run.priority', 1001],
    [{ priority: null }, 'run.priority', null]
  ]
  for (const [options, option, value] of invalid) {
    t.throws(() => checkRunOptions(options, defaults), refusal(option, value), JSON.stringify(options))
  }
  t.equal(checkRunOptions(undefined, defaults), defaults, 'no options: the frozen defaults themselves')
  t.ok(Object.isFrozen(defaults))
  const signal = new AbortController().signal
  t.same(checkRunOptions({ signal, timeout: 40, priority: -1000 }, defaults), { signal, timeoutMs: 40, priority: -1000 })
  t.same(checkRunOptions({}, defaults), { signal: undefined, timeoutMs: 250, priority: 0 }, "the executor's default deadline")
  t.equal(checkRunOptions({ timeout: Infinity }, defaults).timeoutMs, 0, 'Infinity: no deadline')
  t.throws(() => checkPriority('route.priority', '5'), refusal('route.priority', '5'))
  t.equal(checkPriority('route.priority', 1000), 1000)
  t.throws(() => checkRunName(7), refusal('run.name', 7))
  t.same([checkRunName(undefined), checkRunName(null), checkRunName('square')], [null, null, 'square'])
})
