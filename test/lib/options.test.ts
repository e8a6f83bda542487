import t from 'tap'
import {
  booleanOption,
  describeValue,
  durationOption,
  featureOption,
  functionOption,
  nearestKey,
  numberOption,
  objectOption,
  oneOfOption,
  rejectUnknownKeys,
  stringOption
} from '../../lib/options.js'

const INVALID = { code: 'FST_BACKPRESSURE_INVALID_OPTION' }

t.test('numberOption: the message states the rule and the value received', async (t) => {
  const cases: Array<[rule: Parameters<typeof numberOption>[3], value: unknown, expected: string]> = [
    [{}, 'x', 'expected a number, received \'x\''],
    [{ integer: true }, 1.5, 'expected an integer, received 1.5'],
    [{ min: 1 }, 0, 'expected a number >= 1, received 0'],
    [{ max: 9 }, 10, 'expected a number <= 9, received 10'],
    [{ min: 1, max: 9, integer: true }, 10, 'expected an integer >= 1 and <= 9, received 10'],
    [{ min: 1, allowInfinity: true }, -Infinity, 'expected a number >= 1 (or Infinity), received -Infinity'],
    [{}, NaN, 'expected a number, received NaN'],
    [{}, Infinity, 'expected a number, received Infinity']
  ]
  for (const [rule, value, expected] of cases) {
    t.throws(() => numberOption('pool.x', value, 0, rule), { ...INVALID, message: `Invalid option "pool.x": ${expected}` })
  }
  t.equal(numberOption('pool.x', undefined, 7), 7, 'undefined takes the default')
  t.equal(numberOption('pool.x', Infinity, 7, { allowInfinity: true }), Infinity)
  t.equal(numberOption('pool.x', 3, 7, { min: 1, max: 9, integer: true }), 3)
})

t.test('booleanOption, functionOption, objectOption', async (t) => {
  t.equal(booleanOption('a.b', undefined, true), true)
  t.equal(booleanOption('a.b', false, true), false)
  t.throws(() => booleanOption('a.b', 'yes', true), { ...INVALID, message: 'Invalid option "a.b": expected a boolean, received \'yes\'' })

  const fn = (): void => {}
  t.equal(functionOption('a.f', fn), fn)
  t.equal(functionOption('a.f', undefined), undefined)
  t.throws(() => functionOption('a.f', 1), { ...INVALID, message: /"a\.f": expected a function, received 1/ })

  t.same(objectOption('a', undefined), {})
  t.same(objectOption('a', { x: 1 }), { x: 1 })
  for (const bad of [null, [], 'x', 3]) t.throws(() => objectOption('a', bad), { ...INVALID, message: /"a": expected an object/ })
})

t.test('stringOption with and without a pattern', async (t) => {
  t.equal(stringOption('a.s', undefined, 'd'), 'd')
  t.equal(stringOption('a.s', 'v', 'd'), 'v')
  t.throws(() => stringOption('a.s', '', 'd'), { ...INVALID, message: /expected a non-empty string, received ''/ })
  const pattern = { test: /^\//, describe: 'a path starting with /' }
  t.equal(stringOption('a.s', '/x', '/', pattern), '/x')
  t.throws(() => stringOption('a.s', 'x', '/', pattern), { ...INVALID, message: /expected a path starting with \/, received 'x'/ })
  t.throws(() => stringOption('a.s', 42, '/', pattern), { ...INVALID, message: /expected a path starting with \/, received 42/ })
})

t.test('oneOfOption and rejectUnknownKeys', async (t) => {
  t.equal(oneOfOption('a.c', undefined, 503, [503, 429]), 503)
  t.equal(oneOfOption('a.c', 429, 503, [503, 429]), 429)
  t.throws(() => oneOfOption('a.c', 500, 503, [503, 429]), { ...INVALID, message: 'Invalid option "a.c": expected one of 503, 429, received 500' })

  t.doesNotThrow(() => { rejectUnknownKeys('a', { x: 1 }, new Set(['x', 'y'])) })
  t.throws(() => { rejectUnknownKeys('a', { z: 1 }, new Set(['y', 'x'])) }, { ...INVALID, message: 'Invalid option "a.z": expected an option "a" knows (did you mean "a.x"?), received 1' })
})

t.test('rejectUnknownKeys names the full path and the one nearest known key, never the list', async (t) => {
  const known = ['filename', 'maxQueue', 'maxThreads', 'minThreads', 'timeout', 'closeTimeout', 'idleTimeout']
  const cases: Array<[key: string, nearest: string]> = [
    ['maxQueu', 'maxQueue'], // a letter left out
    ['fileName', 'filename'], // letter case only
    ['maxTreads', 'maxThreads'],
    ['timout', 'timeout'],
    ['clsoeTimeout', 'closeTimeout'], // two neighbours swapped: one edit
    ['idletimeout', 'idleTimeout'],
    ['closeTimeoutMs', 'closeTimeout'], // an old unit suffix
    ['maxQueueSize', 'maxQueue'] // words in common count
  ]
  for (const [key, nearest] of cases) {
    t.equal(nearestKey(key, known), nearest, `${key} → ${nearest}`)
    t.throws(() => { rejectUnknownKeys('pool', { [key]: 3 }, known) }, {
      ...INVALID,
      message: `Invalid option "pool.${key}": expected an option "pool" knows (did you mean "pool.${nearest}"?), received 3`
    })
  }
  t.equal(nearestKey('x', []), undefined)
  t.equal(nearestKey('--', ['b', 'a']), 'a', 'a key with no word at all: the nearest by edits, the first in order among equals')
  t.throws(() => { rejectUnknownKeys('a', { x: 1 }, []) }, { ...INVALID, message: 'Invalid option "a.x": expected an option "a" knows, received 1' })
  t.throws(() => { rejectUnknownKeys('', { metric: false }, ['pool', 'metrics']) }, { ...INVALID, message: 'Invalid option "metric": expected an option this plugin knows (did you mean "metrics"?), received false' })
  t.throws(() => { rejectUnknownKeys('httpchk', { logLevel: 'warn' }, ['url']) }, { ...INVALID, message: /"httpchk\.logLevel".*Fastify ignores "logLevel" for a plugin wrapped in fastify-plugin/ })
})

t.test('featureOption: false or an object; durationOption: ms within Node\'s timer bound', async (t) => {
  t.equal(featureOption('a.f', undefined), undefined)
  t.equal(featureOption('a.f', false), undefined)
  t.same(featureOption('a.f', {}), {})
  for (const bad of [true, null, [], 'x']) t.throws(() => featureOption('a.f', bad), { ...INVALID, message: /"a\.f": expected false or an object \(\{\} for the defaults\)/ })
  t.throws(() => featureOption('a.f', true, 'false or a pool'), { ...INVALID, message: /expected false or a pool, received true/ })
  t.equal(durationOption('a.d', undefined, 5), 5)
  t.throws(() => durationOption('a.d', 2 ** 31, 5), { ...INVALID, message: /expected a number >= 0 and <= 2147483647/ })
  t.throws(() => durationOption('a.d', 0, 5, { min: 1, integer: true }), { ...INVALID, message: /expected an integer >= 1 and <= 2147483647/ })
  t.equal(describeValue({ a: { b: { c: 1 } } }), '{ a: { b: [Object] } }', 'short and single-line')
})
