// tap coverage map (package.json "tap"."coverage-map"): every test file counts toward the coverage
// of the package's own sources only. The 100% check covers index.ts, lib/ and plugins/; not
// dist/ (built output, loaded by child processes, mapped back to these sources through its source
// maps), example-app/, bench/ or scripts/, which tests drive as programs.
const PACKAGE_SOURCES = ['index.ts', 'lib/**/*.ts', 'plugins/**/*.ts']

export default function coverageMap (_testFile) {
  return PACKAGE_SOURCES
}
