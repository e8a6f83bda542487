// Reads the example app's configuration from env variables. Every variable is optional; a value
// that is present but wrong stops the app at start-up with a message naming it (never per request).

/** The variables, their defaults and what they mean (docs/example-app.md has the same table). */
export const ENV_DEFAULTS = Object.freeze({
  HOST: '127.0.0.1',
  PORT: '3000', // 0 = pick a free port
  AGENT_PORT: '3001', // 0 = pick a free port, 'off' = no agent-check listener
  POOL_MAX_THREADS: '2',
  POOL_MAX_QUEUE: '64',
  TASK_TIMEOUT_MS: '2000',
  UPSTREAM_URL: '', // '' = start the built-in slow upstream on a free loopback port
  UPSTREAM_DELAY_MS: '300', // delay of the built-in upstream
  UPSTREAM_TIMEOUT_MS: '1000', // the upstream call's timeout for /upstream (in its lane)
  UPSTREAM_AFFECTS_PROBE: '1', // '0' = the /upstream lane never makes the probe busy nor counts in the agent's answer
  UPSTREAM_ADAPTIVE: '', // '' = the /upstream lane has POOL_MAX_THREADS slots; 'MIN:MAX' or 'MIN:MAX:INITIAL' = an adaptive concurrency
  DRAIN_GRACE_MS: '4000', // the HAProxy recipes' inter 1 s × (fall 3 + 1): long enough for HAProxy to see the server go
  HTTPCHK_METHOD: 'OPTIONS', // probe method(s), comma-separated (HAProxy's default probe is OPTIONS /)
  HTTPCHK_URL: '/', // probe path
  HTTPCHK_UNAVAILABLE_STATUS: '503', // the probe's status in every state but free; 404 for HAProxy's http-check disable-on-404 (NOLB instead of DOWN)
  LIVENESS_URL: '', // '' = no liveness route; '/livez' for a Kubernetes livenessProbe
  BLOCK_MAX_MS: '10000', // cap for /block?ms=N
  DASHBOARD_INTERVAL_MS: '1000', // periodic dashboard snapshot (transitions are pushed at once)
  LOG_LEVEL: 'info'
})

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

function integer (env, name, { min, max }) {
  const raw = env[name] ?? ENV_DEFAULTS[name]
  const value = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`Invalid env ${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`)
  }
  return value
}

/**
 * UPSTREAM_ADAPTIVE: '' (a fixed lane), or `MIN:MAX[:INITIAL]`, integers with
 * 1 <= MIN <= INITIAL <= MAX <= 10000: the lane's `concurrency: { adaptive: { min, max, initial } }`.
 * @returns {{ min: number, max: number, initial?: number } | null}
 */
function adaptive (env) {
  const raw = env.UPSTREAM_ADAPTIVE ?? ENV_DEFAULTS.UPSTREAM_ADAPTIVE
  if (raw.trim() === '') return null
  const fail = () => new Error(`Invalid env UPSTREAM_ADAPTIVE=${JSON.stringify(raw)}: expected '' (a fixed concurrency) or MIN:MAX or MIN:MAX:INITIAL, integers with 1 <= MIN <= INITIAL <= MAX <= 10000`)
  const parts = raw.split(':')
  if (parts.length < 2 || parts.length > 3 || parts.some((part) => !/^\s*\d+\s*$/.test(part))) throw fail()
  const [min, max, initial] = parts.map(Number)
  if (min < 1 || max < min || max > 10000) throw fail()
  if (initial === undefined) return { min, max }
  if (initial < min || initial > max) throw fail()
  return { min, max, initial }
}

/** @param {NodeJS.ProcessEnv} env */
export function readConfig (env = process.env) {
  const host = env.HOST ?? ENV_DEFAULTS.HOST
  const agentPortRaw = (env.AGENT_PORT ?? ENV_DEFAULTS.AGENT_PORT).trim()
  const upstreamUrl = env.UPSTREAM_URL ?? ENV_DEFAULTS.UPSTREAM_URL
  if (upstreamUrl !== '' && !URL.canParse(upstreamUrl)) {
    throw new Error(`Invalid env UPSTREAM_URL=${JSON.stringify(upstreamUrl)}: expected an http(s) URL`)
  }
  const livenessUrl = env.LIVENESS_URL ?? ENV_DEFAULTS.LIVENESS_URL
  const logLevel = env.LOG_LEVEL ?? ENV_DEFAULTS.LOG_LEVEL
  if (!LOG_LEVELS.has(logLevel)) {
    throw new Error(`Invalid env LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${[...LOG_LEVELS].join(', ')}`)
  }
  const port = { min: 0, max: 65535 }
  const ms = { min: 0, max: 2 ** 31 - 1 }
  return {
    host,
    port: integer(env, 'PORT', port),
    agentPort: agentPortRaw.toLowerCase() === 'off' ? null : integer(env, 'AGENT_PORT', port),
    maxThreads: integer(env, 'POOL_MAX_THREADS', { min: 1, max: 256 }),
    maxQueue: integer(env, 'POOL_MAX_QUEUE', { min: 1, max: 1e6 }),
    taskTimeoutMs: integer(env, 'TASK_TIMEOUT_MS', ms),
    upstreamUrl: upstreamUrl === '' ? null : upstreamUrl,
    upstreamDelayMs: integer(env, 'UPSTREAM_DELAY_MS', ms),
    upstreamTimeoutMs: integer(env, 'UPSTREAM_TIMEOUT_MS', { min: 1, max: 2 ** 31 - 1 }),
    upstreamAdaptive: adaptive(env),
    upstreamAffectsProbe: (env.UPSTREAM_AFFECTS_PROBE ?? ENV_DEFAULTS.UPSTREAM_AFFECTS_PROBE) !== '0',
    drainGraceMs: integer(env, 'DRAIN_GRACE_MS', ms),
    probeMethods: (env.HTTPCHK_METHOD ?? ENV_DEFAULTS.HTTPCHK_METHOD).split(',').map((method) => method.trim()),
    probeUrl: env.HTTPCHK_URL ?? ENV_DEFAULTS.HTTPCHK_URL,
    probeUnavailableStatus: integer(env, 'HTTPCHK_UNAVAILABLE_STATUS', { min: 400, max: 599 }),
    livenessUrl: livenessUrl === '' ? null : livenessUrl,
    blockMaxMs: integer(env, 'BLOCK_MAX_MS', { min: 1, max: 60000 }),
    dashboardIntervalMs: integer(env, 'DASHBOARD_INTERVAL_MS', { min: 100, max: 60000 }),
    logLevel
  }
}
