// tap coverage map (package.json "tap"."coverage-map"): every test file counts toward the coverage
// of the package's own sources only. The 100% check covers the umbrella (index.ts, options.ts),
// lib/ and plugins/; not dist/ (built output, loaded by child processes, mapped back to these
// sources through its source maps), example-app/, bench/ or scripts/, which tests drive as
// programs. Nor lib/pool/guarded-worker.cjs: it runs only inside worker threads, which the pool
// terminates, and V8 writes a thread's coverage only when the thread exits by itself, so its
// figure would be whatever threads happened to exit; test/lib/pool/pool.test.ts drives each of its paths.
const PACKAGE_SOURCES = ['index.ts', 'options.ts', 'lib/**/*.ts', 'lib/**/*.cts', 'plugins/**/*.ts']

export default function coverageMap (_testFile) {
  return PACKAGE_SOURCES
}
