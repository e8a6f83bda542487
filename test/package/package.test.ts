// The package as users get it: the tarball `npm pack` makes of the built dist/ (packed once per run by
// test/helpers/packed-package.ts; npm test builds first, this test never rebuilds), checked the way
// a registry and a user would see it:
// - its file list, `npm publish --dry-run` of the tarball (no warning) and @arethetypeswrong/cli
//   (offline, on the local .tgz);
// - a scratch ESM consumer and a scratch CommonJS consumer, real child processes in a fresh
//   `npm init -y` project that register the suite in one line, listen on 127.0.0.1 and get answers;
// - scratch TypeScript consumers type-checked against the packed .d.ts with `strict` and
//   `skipLibCheck: false` under moduleResolution node16, nodenext and bundler, from import and require.
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { ROOT as root, packedPackage, run, scratchProject, type Run } from '../helpers/packed-package.js'

// Several tsc runs with skipLibCheck false (10-50 s each on a loaded 2-core machine): more than the
// suite's 180 s per file when two `npm test` run side by side. tap's root `t.setTimeout` tells the
// runner this file's own bound.
t.setTimeout(480_000)
const workerFile = fileURLToPath(new URL('../fixtures/worker.mjs', import.meta.url))
const require = createRequire(import.meta.url)
const tsc = require.resolve('typescript/bin/tsc')
const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js')

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
  const packed = await packedPackage()
  const files = packed.files
  const { dir: scratch, installed } = await scratchProject(t, packed, 'package-test-')

  await t.test('the tarball holds both builds, the README and the LICENSE, and nothing else', async (t) => {
    for (const expected of [
      'package.json', 'README.md', 'LICENSE',
      'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/esm/plugins/pool/decorators.d.ts',
      'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/main.js', 'dist/cjs/package.json',
      'dist/cjs/plugins/pool/decorators.d.ts',
      // The worker module every pool task runs through, copied (not compiled) into each build.
      'dist/esm/lib/pool/guarded-worker.cjs', 'dist/cjs/lib/pool/guarded-worker.cjs'
    ]) t.ok(files.includes(expected), `contains ${expected}`)
    const intruders = files.filter((f) =>
      !(f === 'package.json' || f === 'README.md' || f === 'LICENSE' || f.startsWith('dist/')) ||
      (/\.ts$/.test(f) && !f.endsWith('.d.ts')) || /(^|\/)(test|fixtures|\.tap|\.tmp)\//.test(f))
    t.same(intruders, [], 'no sources, tests, scripts, example app or config')
  })

  await t.test('the shipped package.json names its source, its licence and where to report bugs', async (t) => {
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>
    t.equal(manifest.license, 'MIT')
    t.match(manifest.repository, { type: 'git', url: /^git\+https:\/\/.+\.git$/ })
    t.match(manifest.homepage, /^https:\/\//)
    t.match(manifest.bugs, { url: /^https:\/\// })
    t.equal(manifest.main, './dist/cjs/main.js', 'main points at the CommonJS entry')
    const scripts = (manifest.scripts ?? {}) as Record<string, string>
    // npm runs these when the package is installed: a build script there would run (and fail) in
    // every user's project. prepack runs only where the package is packed.
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) t.notOk(hook in scripts, `no "${hook}" script`)
    t.match(await readFile(join(installed, 'LICENSE'), 'utf8'), /^MIT License/, 'LICENSE is the MIT licence')
  })

  await t.test('npm publish --dry-run accepts the tarball without a warning', async (t) => {
    const output = await run('npm', ['publish', '--dry-run', '--ignore-scripts', packed.tarball], scratch)
    exitedZero(t, output, 'npm publish --dry-run')
    // The login notice is about this machine (no npm account here), not about the package.
    const warnings = output.stderr.split('\n').filter((line) => /\bwarn\b/i.test(line) && !/requires you to be logged in/.test(line))
    t.same(warnings, [], 'no warning (npm says "auto-corrected some errors in your package.json" for a bad manifest)')
    t.match(output.stdout + output.stderr, 'fastify-backpressure@', 'publishes fastify-backpressure')
  })

  await t.test('@arethetypeswrong/cli finds no problem in the tarball', async (t) => {
    // --no-definitely-typed: no look-up of @types packages on the registry, so it runs offline.
    const output = await run(process.execPath, [attw, packed.tarball, '--no-definitely-typed', '--format', 'json'], scratch)
    const result = JSON.parse(output.stdout) as { analysis?: { problems?: unknown[] }, problems?: unknown }
    const problems = result.analysis?.problems ?? result.problems
    t.same(problems, [], `no problem found${problems === undefined || (Array.isArray(problems) && problems.length === 0) ? '' : `: ${JSON.stringify(problems)}`}`)
    t.equal(output.code, 0, `attw exits 0${output.code === 0 ? '' : `\n${output.stderr}`}`)
  })

  const consumerBody = (load: string): string => `${load}
const app = Fastify()
// One line: the whole suite with a real worker file (drain grace 0: close at once, not after 8 s).
await app.register(backpressure, { pool: { filename: ${JSON.stringify(workerFile)}, minThreads: 1, maxThreads: 1, execArgv: [] }, httpchk: { drain: { grace: 0 } } })
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
      t.equal(result.poolClass, 'undefined', 'no engine class: the pool comes from the plugin')
      if (kind === 'ESM') t.same(result.keys, ['RETRYABLE_ERROR_CODES', 'backpressure', 'default', 'errors', 'httpchkPlugin', 'isRetryableError', 'lanesPlugin', 'metricsPlugin', 'poolPlugin'], 'the export list')
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
    t.ok(esmKeys.length >= 9, `ESM exports: ${esmKeys.join(', ')}`)
    t.same(esmKeys.filter((key) => !cjsKeys.includes(key)), [], 'no ESM export is missing from require()')
  })

  // TypeScript consumers, against the packed .d.ts: the .mts file resolves through the "import"
  // condition (dist/esm), the .cts file through "require" (dist/cjs). Each also proves the types are
  // real, not `any`: an `any` would make its @ts-expect-error lines unused, which tsc reports.
  await writeFile(join(scratch, 'consumer.mts'), `import Fastify from 'fastify'
import backpressure, { poolPlugin, errors, type PoolSnapshot } from 'fastify-backpressure'
const app = Fastify()
await app.register(backpressure, { pool: { filename: 'worker.mjs', onBusy: (s: PoolSnapshot) => { void s.queued } }, httpchk: false })
await app.register(poolPlugin, { filename: new URL('file:///worker.mjs') })
const busy: boolean = app.pool.busy
const rendered: Promise<string> = app.pool.run<string>({ page: 'home' }, { timeout: 100 })
const full = new errors.QueueFullError()
const code: string = full.code
const status: number | undefined = full.statusCode
const isError: boolean = full instanceof Error && errors.TaskTimeoutError(5) instanceof errors.TaskTimeoutError
// @ts-expect-error pool.filename is required
await app.register(backpressure, { pool: {} })
// @ts-expect-error an error's code is a string, not a number (errors.QueueFullError is typed, not any)
const wrong: number = new errors.QueueFullError().code
// @ts-expect-error TaskTimeoutError takes the timeout in ms, a number
void new errors.TaskTimeoutError('soon')
export { busy, rendered, code, status, isError, wrong }
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
const full: string = new api.errors.QueueFullError().message
// @ts-expect-error maxQueue is a number or 'auto'
void app.register(api.poolPlugin, { filename: 'worker.mjs', maxQueue: 'lots' })
// @ts-expect-error an error's code is a string, not a number (errors.PoolDownError is typed, not any)
const wrong: number = new errors.PoolDownError('gone').code
export { queued, code, full, wrong }
`)
  // One program per consumer: a program that both imports and requires the package sees two
  // copies of the `app.pool` augmentation (dist/esm and dist/cjs declare distinct BackpressurePool
  // classes) and tsc reports TS2717; the README's Compatibility section says so.
  const settings: Record<string, Record<string, unknown>> = {
    node16: { module: 'node16', moduleResolution: 'node16' },
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
    // What a Vite/esbuild/tsx project uses; esModuleInterop off, as in a fresh `tsc --init` for bundlers.
    bundler: { module: 'preserve', moduleResolution: 'bundler', esModuleInterop: false }
  }
  // The two consumers of one resolution are checked side by side (two tsc processes: ~10-25 s each
  // with skipLibCheck false on a loaded 2-core machine).
  for (const [resolution, options] of Object.entries(settings)) {
    await t.test(`scratch TypeScript consumers type-check under moduleResolution ${resolution}, strict, skipLibCheck false`, async (t) => {
      const consumers = [['consumer.mts', 'dist/esm'], ['consumer.cts', 'dist/cjs']] as const
      const outputs = await Promise.all(consumers.map(async ([consumer]) => {
        const tsconfig = join(scratch, `tsconfig.${resolution}.${consumer}.json`)
        await writeFile(tsconfig, JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            strict: true,
            noEmit: true,
            esModuleInterop: true,
            // Every .d.ts is checked, ours and our dependencies'. piscina 5.3's own types import
            // '../package.json', which tsc only accepts with resolveJsonModule (docs/compatibility.md).
            skipLibCheck: false,
            resolveJsonModule: true,
            types: ['node'],
            typeRoots: [join(root, 'node_modules/@types')],
            ...options
          },
          files: [consumer]
        }))
        return await run(process.execPath, [tsc, '-p', tsconfig, '--listFiles'], scratch)
      }))
      consumers.forEach(([consumer, declarations], index) => {
        const output = outputs[index] as Run
        exitedZero(t, { ...output, stdout: output.stdout.split('\n').filter((l) => l.includes('error')).join('\n') }, `tsc ${consumer}`)
        const listed = output.stdout.split('\n')
        t.ok(listed.includes(join(installed, declarations, 'index.d.ts')), `${consumer} read ${declarations}/index.d.ts`)
        t.ok(listed.includes(join(installed, declarations, 'lib/errors.d.ts')), 'and the error classes\' declarations')
        t.ok(listed.includes(join(installed, declarations, 'plugins/pool/decorators.d.ts')), 'and the app.pool augmentation')
      })
    })
  }
})
