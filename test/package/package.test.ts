// The package as users get it: `npm pack` the built dist/ (npm test builds it first; this test never
// rebuilds it), unpack the tarball as node_modules/fastify-backpressure of a scratch project under
// .tmp/, and use it from a scratch ESM consumer, a scratch CommonJS consumer (both real child
// processes that register the suite in one line, listen on 127.0.0.1 and get answers), and a
// scratch TypeScript consumer type-checked against the packed .d.ts under node16 and nodenext.
// The scratch project sits inside the repository so that the package's dependencies (fastify,
// piscina, ...) resolve from the repository's node_modules: no network install.
import { execFile, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const workerFile = fileURLToPath(new URL('../fixtures/worker.mjs', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const CHILD_TIMEOUT_MS = 60_000

interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a program to completion; the child is killed by PID if it outlives the test. */
async function run (file: string, args: string[], cwd: string): Promise<Run> {
  let child: ChildProcess | undefined
  const result = await new Promise<Run>((resolve) => {
    child = execFile(file, args, { cwd, timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })
  // execFile's timeout kills a hung child; this makes sure nothing is left whatever happened.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL')
  return result
}

/** Asserts a clean exit; the output is shown only when it failed. */
function exitedZero (t: Test, output: Run, what: string): void {
  t.equal(output.code, 0, output.code === 0 ? `${what} exits 0` : `${what} exits 0\n${output.stdout}\n${output.stderr}`)
}

/** The last JSON line a consumer printed. */
function report (output: Run): Record<string, unknown> {
  const line = output.stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1)
  if (line === undefined) throw new Error(`no report from the consumer:\n${output.stdout}\n${output.stderr}`)
  return JSON.parse(line) as Record<string, unknown>
}

t.test('the packed package', async (t) => {
  if (!existsSync(join(root, 'dist/esm/index.js')) || !existsSync(join(root, 'dist/cjs/main.js'))) {
    t.fail('dist/ is missing or incomplete: run `npm run build` (npm test does it first)')
    return
  }
  await mkdir(join(root, '.tmp'), { recursive: true })
  const scratch = await mkdtemp(join(root, '.tmp', 'package-test-'))
  t.teardown(() => rm(scratch, { recursive: true, force: true }))

  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], root)
  exitedZero(t, pack, 'npm pack')
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
  if (packed === undefined) throw new Error(`npm pack printed no result: ${pack.stdout}`)
  const files = packed.files.map((f) => f.path)

  await t.test('the tarball holds both builds and nothing else', async (t) => {
    for (const expected of [
      'package.json',
      'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/esm/plugins/pool/decorators.d.ts',
      'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/main.js', 'dist/cjs/package.json',
      'dist/cjs/plugins/pool/decorators.d.ts'
    ]) t.ok(files.includes(expected), `contains ${expected}`)
    const intruders = files.filter((f) =>
      !(f === 'package.json' || f === 'README.md' || /^LICENSE/.test(f) || f.startsWith('dist/')) ||
      (/\.ts$/.test(f) && !f.endsWith('.d.ts')) || /(^|\/)(test|fixtures|\.tap|\.tmp)\//.test(f))
    t.same(intruders, [], 'no sources, tests, scripts, example app or config')
  })

  // Unpack as <scratch>/node_modules/fastify-backpressure, inside a scratch project with its own
  // package.json: without it, Node would resolve 'fastify-backpressure' to this repository itself
  // (a package may import its own name) and the test would not be testing the tarball.
  const extract = await run('tar', ['-xzf', join(scratch, packed.filename), '-C', scratch], root)
  exitedZero(t, extract, 'tar -x')
  await mkdir(join(scratch, 'node_modules'))
  const installed = join(scratch, 'node_modules', 'fastify-backpressure')
  await rename(join(scratch, 'package'), installed)
  await writeFile(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch-consumer', private: true }))

  const consumerBody = (load: string): string => `${load}
const app = Fastify()
// One line: the whole suite with a real worker file (drain grace 0: close at once, not after 8 s).
await app.register(backpressure, { pool: { filename: ${JSON.stringify(workerFile)}, minThreads: 1, maxThreads: 1, execArgv: [] }, httpchk: { drain: { graceMs: 0 } } })
app.get('/echo', async () => await app.pool.run({ op: 'echo', value: 'echoed by a worker' }))
const url = await app.listen({ host: '127.0.0.1', port: 0 })
const probe = await fetch(url + '/', { method: 'OPTIONS' })
const echo = await fetch(url + '/echo')
const result = {
  resolved, keys: Object.keys(api).sort(), defaultIsPlugin: api.default === backpressure,
  namedPlugins: [api.poolPlugin, api.httpchkPlugin, api.metricsPlugin].map((p) => typeof p),
  poolClass: typeof api.BackpressurePool, errorCode: new api.errors.QueueFullError().code,
  hasPool: app.hasPlugin('fastify-backpressure-pool'), probeStatus: probe.status,
  echoStatus: echo.status, echoBody: await echo.text(), snapshot: app.pool.snapshot()
}
await app.close()
console.log(JSON.stringify(result))
`
  await writeFile(join(scratch, 'esm-consumer.mjs'), consumerBody(`import Fastify from 'fastify'
import backpressure, { poolPlugin } from 'fastify-backpressure'
import * as api from 'fastify-backpressure'
const resolved = import.meta.resolve('fastify-backpressure')
if (poolPlugin !== api.poolPlugin) throw new Error('named import differs from the namespace')`))
  // CommonJS has no top-level await: the body runs in an async IIFE. `backpressure` is what
  // require() returns, registered as is.
  await writeFile(join(scratch, 'cjs-consumer.cjs'), `'use strict'
const Fastify = require('fastify')
const backpressure = require('fastify-backpressure')
const api = backpressure
const resolved = require.resolve('fastify-backpressure')
if (typeof backpressure !== 'function') throw new Error('require() did not return the plugin function')
;(async () => {
${consumerBody('')}
})().catch((error) => { console.error(error); process.exitCode = 1 })
`)

  const consumers: Record<string, Record<string, unknown>> = {}
  for (const [kind, file, entry] of [['ESM', 'esm-consumer.mjs', 'dist/esm/index.js'], ['CJS', 'cjs-consumer.cjs', 'dist/cjs/main.js']] as const) {
    await t.test(`a scratch ${kind} consumer registers the suite in one line and serves`, async (t) => {
      const output = await run(process.execPath, [file], scratch)
      exitedZero(t, output, file)
      const result = report(output)
      consumers[kind] = result
      // ESM reports a file: URL, CJS a path: both end with the unpacked file's path.
      t.ok(String(result.resolved).endsWith(join(installed, entry)),
        `'fastify-backpressure' resolves to the unpacked tarball's ${entry}: ${String(result.resolved)}`)
      t.equal(result.defaultIsPlugin, true, '.default is the plugin itself')
      t.same(result.namedPlugins, ['function', 'function', 'function'], 'poolPlugin, httpchkPlugin, metricsPlugin')
      t.equal(result.poolClass, 'function', 'BackpressurePool')
      t.equal(result.errorCode, 'FST_BACKPRESSURE_QUEUE_FULL', 'errors.QueueFullError')
      t.equal(result.hasPool, true, 'the pool plugin registered')
      t.equal(result.echoStatus, 200)
      t.equal(result.echoBody, 'echoed by a worker', 'a task ran in the pool')
      t.equal(result.probeStatus, 200, 'OPTIONS / (HAProxy\'s default probe) answers 200')
      t.match(result.snapshot, { busy: false, queued: 0, completed: 1, failed: 0 })
    })
  }

  await t.test('require() exposes every named export of the ESM build', async (t) => {
    const esmKeys = (consumers.ESM?.keys ?? []) as string[]
    const cjsKeys = (consumers.CJS?.keys ?? []) as string[]
    t.ok(esmKeys.length >= 7, `ESM exports: ${esmKeys.join(', ')}`)
    t.same(esmKeys.filter((key) => !cjsKeys.includes(key)), [], 'no ESM export is missing from require()')
  })

  // TypeScript consumers, against the packed .d.ts: the .mts file resolves through the "import"
  // condition (dist/esm), the .cts file through "require" (dist/cjs).
  await writeFile(join(scratch, 'consumer.mts'), `import Fastify from 'fastify'
import backpressure, { poolPlugin, type PoolSnapshot } from 'fastify-backpressure'
const app = Fastify()
await app.register(backpressure, { pool: { filename: 'worker.mjs', onBusy: (s: PoolSnapshot) => { void s.queued } }, httpchk: false })
await app.register(poolPlugin, { filename: new URL('file:///worker.mjs') })
const busy: boolean = app.pool.busy
const rendered: Promise<string> = app.pool.run<string>({ page: 'home' }, { timeout: 100 })
// @ts-expect-error pool.filename is required: proves the types are real, not any
await app.register(backpressure, { pool: {} })
export { busy, rendered }
`)
  await writeFile(join(scratch, 'consumer.cts'), `import Fastify from 'fastify'
import backpressure, { poolPlugin, errors } from 'fastify-backpressure'
import api = require('fastify-backpressure')
const app = Fastify()
void app.register(backpressure, { pool: { filename: 'worker.mjs' } })
void app.register(api.default, { pool: { filename: 'worker.mjs' }, metrics: false })
void app.register(poolPlugin, { filename: 'worker.mjs', maxQueue: 'auto' })
const queued: number = app.pool.snapshot().queued
const code: string = new errors.TaskTimeoutError(5).code
// @ts-expect-error maxQueue is a number or 'auto': proves the types are real, not any
void app.register(api.poolPlugin, { filename: 'worker.mjs', maxQueue: 'lots' })
export { queued, code }
`)
  // One program per consumer: a program that both imports and requires the package sees two
  // copies of the `app.pool` augmentation (dist/esm and dist/cjs declare distinct BackpressurePool
  // classes) and tsc reports TS2717; README.md ("Compatibility") says so.
  for (const resolution of ['node16', 'nodenext']) {
    for (const [consumer, declarations] of [['consumer.mts', 'dist/esm'], ['consumer.cts', 'dist/cjs']] as const) {
      await t.test(`a scratch TypeScript ${consumer} type-checks against ${declarations} under moduleResolution ${resolution}`, async (t) => {
        const tsconfig = join(scratch, `tsconfig.${resolution}.${consumer}.json`)
        await writeFile(tsconfig, JSON.stringify({
          compilerOptions: {
            module: resolution,
            moduleResolution: resolution,
            target: 'ES2022',
            strict: true,
            noEmit: true,
            esModuleInterop: true,
            // node16 also checks every .d.ts, ours included (slow: ~3x); nodenext keeps the usual
            // skipLibCheck. piscina 5.3's own types import '../package.json', which node16
            // resolution only accepts with resolveJsonModule.
            skipLibCheck: resolution !== 'node16',
            resolveJsonModule: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules/@types')]
          },
          files: [consumer]
        }))
        const output = await run(process.execPath, [tsc, '-p', tsconfig, '--listFiles'], scratch)
        exitedZero(t, { ...output, stdout: output.stdout.split('\n').filter((l) => l.includes('error')).join('\n') }, 'tsc')
        const listed = output.stdout.split('\n')
        t.ok(listed.includes(join(installed, declarations, 'index.d.ts')), `read ${declarations}/index.d.ts`)
        t.ok(listed.includes(join(installed, declarations, 'plugins/pool/decorators.d.ts')), 'the app.pool augmentation ships and is read')
      })
    }
  }

  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { exports: unknown, main: string }
  t.equal(manifest.main, './dist/cjs/main.js', 'main points at the CommonJS entry')
})
