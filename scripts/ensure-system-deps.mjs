// First step of `npm test` (and of .ci/run): makes sure the system programs the end-to-end tests
// drive are installed.
// - haproxy (Debian package `haproxy`): the real load balancer in test/e2e.
// - chromium (Debian package `chromium`): the headless browser of the dashboard test.
// - caddy, nginx, apache2 and varnishd (Debian packages `caddy`, `nginx`, `apache2`, `varnish`): the
//   other balancers the e2e tests put in front of the example app (docs/caddy.md, docs/balancers.md).
// As root on Debian it installs what is missing with apt-get; anywhere else it stops with exit code 1
// and prints the command to run. The lookup (env variable, $PATH, then the sbin folders) is
// tools/system.mjs, the same one the tests and the demo use.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { REQUIRED, findProgram } from '../tools/system.mjs'

function aptGet (args) {
  const result = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  })
  if (result.status !== 0) {
    console.error(`ensure-system-deps: apt-get ${args.join(' ')} failed (${result.error?.message ?? `exit code ${result.status}`})`)
    process.exit(1)
  }
}

const lookup = () => REQUIRED.map((system) => ({ ...system, path: findProgram(system) }))
let found = lookup()
const missing = found.filter((entry) => entry.path === undefined)

if (missing.length > 0) {
  const packages = missing.map((entry) => entry.debianPackage)
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
  if (!isRoot || !existsSync('/etc/debian_version')) {
    console.error(`ensure-system-deps: missing ${missing.map((entry) => entry.program).join(', ')}, which the end-to-end tests need.`)
    console.error(`Install with:\n  sudo apt-get install -y ${packages.join(' ')}`)
    process.exit(1)
  }
  console.log(`ensure-system-deps: installing ${packages.join(' ')} with apt-get`)
  aptGet(['update'])
  aptGet(['install', '-y', '--no-install-recommends', ...packages])
  found = lookup()
  const stillMissing = found.filter((entry) => entry.path === undefined)
  if (stillMissing.length > 0) {
    console.error(`ensure-system-deps: ${stillMissing.map((entry) => entry.program).join(', ')} still not found after apt-get install`)
    process.exit(1)
  }
}

console.log(`ensure-system-deps: ${found.map(({ program, path }) => `${program} ${path}`).join(', ')}`)
