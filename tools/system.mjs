// Where the system programs the end-to-end tests, the demo and `npm test` drive live (haproxy, chromium,
// and the other balancers: caddy, nginx, apache2, varnishd).
// One lookup for all of them: scripts/ensure-system-deps.mjs (first step of `npm test` and .ci/run),
// tools/haproxy.mjs, test/helpers/browser.ts and example-app/demo.mjs ask here.
//
// Search order: `$HAPROXY_PATH` / `$CHROMIUM_PATH`, then `$PATH`, then /usr/sbin, /usr/bin and
// /usr/local/sbin (Debian installs haproxy in /usr/sbin, which a non-root PATH often lacks).
//
// Under CI=true a missing program is a broken machine: `.ci/run` installs both, so tests must fail,
// not skip. `skipUnlessInstalled()` encodes that rule for local runs.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** @typedef {{ readonly program: string, readonly debianPackage: string, readonly envVar: string }} SystemProgram */

/** @type {SystemProgram} */
export const HAPROXY = Object.freeze({ program: 'haproxy', debianPackage: 'haproxy', envVar: 'HAPROXY_PATH' })
/** @type {SystemProgram} */
export const CHROMIUM = Object.freeze({ program: 'chromium', debianPackage: 'chromium', envVar: 'CHROMIUM_PATH' })
/** @type {SystemProgram} Caddy 2.6: the second kind of balancer in the e2e tests (active health checks, no agent). */
export const CADDY = Object.freeze({ program: 'caddy', debianPackage: 'caddy', envVar: 'CADDY_PATH' })
/** @type {SystemProgram} nginx (open source): no active checks, learns from the answers it proxies. */
export const NGINX = Object.freeze({ program: 'nginx', debianPackage: 'nginx', envVar: 'NGINX_PATH' })
/** @type {SystemProgram} Apache httpd 2.4 (mod_proxy_balancer, mod_proxy_hcheck): Debian's binary is `apache2`. */
export const APACHE = Object.freeze({ program: 'apache2', debianPackage: 'apache2', envVar: 'APACHE_PATH' })
/** @type {SystemProgram} Varnish (backend probes, a director that skips sick backends). */
export const VARNISH = Object.freeze({ program: 'varnishd', debianPackage: 'varnish', envVar: 'VARNISHD_PATH' })
/** What `npm test` needs installed. */
export const REQUIRED = Object.freeze([HAPROXY, CHROMIUM, CADDY, NGINX, APACHE, VARNISH])

const EXTRA_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin']

function isExecutable (path) {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first executable candidate for `program`, or undefined. */
export function findProgram ({ program, envVar }, env = process.env) {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''), ...EXTRA_DIRS]
  const candidates = [env[envVar], ...dirs.map((dir) => join(dir, program))]
  return candidates.find((candidate) => candidate !== undefined && candidate !== '' && isExecutable(candidate))
}

/** What to do when `program` is missing: what to install, or which variable to set. */
export function missingMessage ({ program, debianPackage, envVar }) {
  return `${program} not found in $${envVar}, $PATH, ${EXTRA_DIRS.join(', ')}. ` +
    `Install it with \`sudo apt-get install -y ${debianPackage}\` (npm test does this when run as root on Debian; ` +
    `elsewhere \`brew install ${debianPackage}\` or \`sudo dnf install -y ${debianPackage}\`), or set ${envVar}.`
}

/** The path of `program`; throws a clear error when it is missing. */
export function programPath (system, env = process.env) {
  const path = findProgram(system, env)
  if (path === undefined) throw new Error(missingMessage(system))
  return path
}

export function haproxyPath (env = process.env) {
  return programPath(HAPROXY, env)
}

export function chromiumPath (env = process.env) {
  return programPath(CHROMIUM, env)
}

export function isCi (env = process.env) {
  return env.CI === 'true' || env.CI === '1'
}

/**
 * Test options for tap: `{ skip: <reason> }` when `system` is missing and we are not in CI, `{}`
 * otherwise. Under CI a missing program is not skipped: the test calls `haproxyPath()` /
 * `chromiumPath()`, which throws, and the test fails.
 *
 *   t.test('saturation', skipUnlessInstalled(HAPROXY), async (t) => { const bin = haproxyPath() … })
 */
export function skipUnlessInstalled (system, env = process.env) {
  if (isCi(env) || findProgram(system, env) !== undefined) return {}
  return { skip: missingMessage(system) }
}
