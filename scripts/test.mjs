// The test tiers, and the one place that says which tier each folder of test/ belongs to.
//
//   node scripts/test.mjs unit|e2e|package [tap options]   one tier, without coverage
//   node scripts/test.mjs typecheck                          tsc over the sources, the tests and test/types
//   node scripts/test.mjs all [tap options]                  every tap tier in one tap run, with coverage
//
// A tier names folders, never files: tap runs every test file in them and in every subfolder, so a
// new test file, or a new subfolder of a tier's folder, runs with no edit here.
// test/docs/tiers.test.ts fails when a folder of test/ is in no tier, or in two.
//
// `all` (npm test) is one tap run because tap checks coverage per run: the 100% check over the
// umbrella, lib/ and plugins/ (test/helpers/coverage-map.mjs) counts every tier's tests. A tier
// alone runs with --disable-coverage: no tier on its own is meant to cover everything.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * What each tier runs, and how. `paths` are relative to the repository; `env` and `options` (tap's)
 * apply when the tier runs alone.
 * @type {Record<string, { run: 'tap' | 'tsc', paths: string[], env?: Record<string, string>, options?: string[] }>}
 */
export const TIERS = {
  unit: {
    run: 'tap',
    paths: ['test/index.test.ts', 'test/lib', 'test/plugins'],
    // The property and fuzz tests run a subset of their seeds and iterations (test/helpers/tier.ts).
    env: { TEST_UNIT_LOOP: '1' },
    // These files wait on threads, sockets and timers as much as they compute: four at a time
    // finish sooner on two cores than tap's two (package.json), which the e2e tests need.
    options: ['--jobs=4']
  },
  e2e: {
    run: 'tap',
    // tools/ is the end-to-end harness (child processes, ports, the fault proxy, the load
    // generator, the balancers' configurations, finding haproxy and chromium) and scripts/ holds
    // the soak, which starts the example app under load: their tests guard what the e2e tests
    // stand on, and need what those need.
    paths: ['test/e2e', 'test/example-app', 'test/scripts', 'test/tools']
  },
  package: {
    run: 'tap',
    // What users get: the packed tarball and its types, and every runnable block of the docs.
    paths: ['test/docs', 'test/package']
  },
  typecheck: {
    run: 'tsc',
    // Type tests: tsc checks them (tsconfig.json includes test/**), nothing runs them.
    paths: ['test/types']
  }
}

/** Folders of test/ that hold no tests: what the tests import and load. */
export const SUPPORT = ['test/fixtures', 'test/helpers']

const ROOT = fileURLToPath(new URL('..', import.meta.url))

function packageBin (name, bin) {
  const require = createRequire(import.meta.url)
  const manifest = require.resolve(`${name}/package.json`)
  return join(dirname(manifest), require(manifest).bin[bin])
}

/** Runs a Node program in the repository, with `env` added; resolves with its exit code. */
function node (args, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } })
    child.on('exit', (code) => { resolve(code ?? 1) })
  })
}

async function main ([name, ...options]) {
  if (name === 'all') {
    const paths = Object.values(TIERS).filter((tier) => tier.run === 'tap').flatMap((tier) => tier.paths)
    return await node([packageBin('tap', 'tap'), ...paths, ...options])
  }
  const tier = TIERS[name]
  if (tier === undefined) {
    console.error(`usage: node scripts/test.mjs <${[...Object.keys(TIERS), 'all'].join('|')}> [options]`)
    return 2
  }
  if (tier.run === 'tsc') return await node([packageBin('typescript', 'tsc'), '--noEmit', '-p', 'tsconfig.json', ...options])
  return await node([packageBin('tap', 'tap'), '--disable-coverage', ...(tier.options ?? []), ...tier.paths, ...options], tier.env)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2))
