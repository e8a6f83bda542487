// The example app's env parsing (example-app/config.mjs), in-process: the defaults, the adaptive
// upstream lane (UPSTREAM_ADAPTIVE), the errors naming the variable, and the env table of
// docs/example-app.md, which must list exactly the variables of ENV_DEFAULTS with their defaults.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { ENV_DEFAULTS, readConfig } from '../../example-app/config.mjs'

t.test('the defaults: a fixed upstream lane of POOL_MAX_THREADS slots', async (t) => {
  const config = readConfig({})
  t.equal(config.maxThreads, 2)
  t.equal(config.maxQueue, 64)
  t.equal(config.upstreamAdaptive, null, 'no UPSTREAM_ADAPTIVE: the lane is not adaptive')
  t.equal(readConfig({ UPSTREAM_ADAPTIVE: '' }).upstreamAdaptive, null, 'an empty value is the default')
  t.equal(readConfig({ UPSTREAM_ADAPTIVE: '  ' }).upstreamAdaptive, null, 'so is a blank one')
})

t.test('UPSTREAM_ADAPTIVE=MIN:MAX[:INITIAL] makes the upstream lane adaptive', async (t) => {
  t.same(readConfig({ UPSTREAM_ADAPTIVE: '1:8' }).upstreamAdaptive, { min: 1, max: 8 })
  t.same(readConfig({ UPSTREAM_ADAPTIVE: '2:16:4' }).upstreamAdaptive, { min: 2, max: 16, initial: 4 })
  t.same(readConfig({ UPSTREAM_ADAPTIVE: '3:3:3' }).upstreamAdaptive, { min: 3, max: 3, initial: 3 }, 'a fixed range is allowed')
  t.same(readConfig({ UPSTREAM_ADAPTIVE: ' 1 : 10000 ' }).upstreamAdaptive, { min: 1, max: 10000 }, 'spaces around the numbers are ignored')
})

t.test('a wrong UPSTREAM_ADAPTIVE stops the app, naming the variable', async (t) => {
  for (const value of ['adaptive', '8', '1:', ':8', '0:8', '8:1', '1:8:9', '1:8:0', '1:8:4:2', '1.5:8', '-1:8', '1:10001', 'a:b', '1:8x']) {
    t.throws(() => readConfig({ UPSTREAM_ADAPTIVE: value }), { message: `Invalid env UPSTREAM_ADAPTIVE=${JSON.stringify(value)}: expected '' (a fixed concurrency) or MIN:MAX or MIN:MAX:INITIAL, integers with 1 <= MIN <= INITIAL <= MAX <= 10000` }, JSON.stringify(value))
  }
})

t.test('the other variables are still checked', async (t) => {
  t.throws(() => readConfig({ POOL_MAX_THREADS: 'many' }), { message: 'Invalid env POOL_MAX_THREADS="many": expected an integer from 1 to 256' })
  t.throws(() => readConfig({ LOG_LEVEL: 'loud' }), /^Invalid env LOG_LEVEL="loud"/)
})

t.test('docs/example-app.md lists exactly the variables of ENV_DEFAULTS, with their defaults', async (t) => {
  const markdown = await readFile(new URL('../../docs/example-app.md', import.meta.url), 'utf8')
  const section = markdown.slice(markdown.indexOf('## Configuration (env variables'))
  const rows = [...section.matchAll(/^\| `([A-Z_]+)` \| ([^|]*) \|/gm)].map((match) => ({ name: match[1] as string, cell: (match[2] as string).trim() }))
  t.same(rows.map((row) => row.name).sort(), Object.keys(ENV_DEFAULTS).sort(), 'the same variables')
  for (const { name, cell } of rows) {
    // A cell that is one literal (`2`) is the default itself; others describe it ((none), (built-in), …).
    const literal = /^`([^`]*)`$/.exec(cell)?.[1]
    if (literal !== undefined) t.equal(literal, ENV_DEFAULTS[name], `${name}: the table's default is ENV_DEFAULTS's`)
    else t.equal(ENV_DEFAULTS[name], '', `${name}: a described default (${cell}) stands for an empty one`)
  }
})
