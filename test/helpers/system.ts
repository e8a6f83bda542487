/**
 * Where the system programs the end-to-end tests drive live. `npm test` installs them first
 * (scripts/ensure-system-deps.mjs, same search order), so a test that needs one asks here and
 * gets a path or a clear error.
 *
 * Search order: `$HAPROXY_PATH` / `$CHROMIUM_PATH`, then `$PATH`, then /usr/sbin and /usr/bin
 * (Debian installs haproxy in /usr/sbin, which a non-root PATH often lacks).
 *
 * Under CI=true a missing program is a broken machine: `.ci/run` installs both, so tests must fail,
 * not skip. `skipUnlessInstalled()` encodes that rule for local runs.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

export interface SystemProgram {
  /** Executable name. */
  readonly program: string
  /** Debian package that provides it. */
  readonly debianPackage: string
  /** Environment variable that may point at the executable. */
  readonly envVar: string
}

export const HAPROXY: SystemProgram = { program: 'haproxy', debianPackage: 'haproxy', envVar: 'HAPROXY_PATH' }
export const CHROMIUM: SystemProgram = { program: 'chromium', debianPackage: 'chromium', envVar: 'CHROMIUM_PATH' }

const EXTRA_DIRS = ['/usr/sbin', '/usr/bin']

function isExecutable (path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The first executable candidate for `program`, or undefined. */
export function findProgram ({ program, envVar }: SystemProgram, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter((dir) => dir !== ''), ...EXTRA_DIRS]
  const candidates = [env[envVar], ...dirs.map((dir) => join(dir, program))]
  return candidates.find((candidate): candidate is string => candidate !== undefined && candidate !== '' && isExecutable(candidate))
}

/** The message a test shows when `program` is missing: what to install, or which variable to set. */
export function missingMessage ({ program, debianPackage, envVar }: SystemProgram): string {
  return `${program} not found in $${envVar}, $PATH, /usr/sbin or /usr/bin. ` +
    `Install it with \`sudo apt-get install -y ${debianPackage}\` (npm test does this when run as root on Debian), or set ${envVar}.`
}

/** The path of `program`; throws a clear error when it is missing. */
export function programPath (system: SystemProgram, env: NodeJS.ProcessEnv = process.env): string {
  const path = findProgram(system, env)
  if (path === undefined) throw new Error(missingMessage(system))
  return path
}

export function haproxyPath (env: NodeJS.ProcessEnv = process.env): string {
  return programPath(HAPROXY, env)
}

export function chromiumPath (env: NodeJS.ProcessEnv = process.env): string {
  return programPath(CHROMIUM, env)
}

export function isCi (env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1'
}

/**
 * Test-file options for tap: `{ skip: <reason> }` when `system` is missing and we are not in CI,
 * `{}` otherwise. Under CI a missing program is not skipped: the test calls `haproxyPath()` /
 * `chromiumPath()`, which throws, and the test fails.
 *
 *   t.test('saturation', skipUnlessInstalled(HAPROXY), async (t) => { const bin = haproxyPath() … })
 */
export function skipUnlessInstalled (system: SystemProgram, env: NodeJS.ProcessEnv = process.env): { skip?: string } {
  if (isCi(env) || findProgram(system, env) !== undefined) return {}
  return { skip: missingMessage(system) }
}
