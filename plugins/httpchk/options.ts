/**
 * Options of the httpchk plugin. The declarations below are each option's documentation
 * (docs/options.md is generated from them).
 */
import { constants } from 'node:os'
import type { BlockList } from 'node:net'
import { InvalidOptionError } from '../../lib/errors.js'
import type { DependencyCheck } from '../../lib/httpchk/dependency-checks.js'
import { allowList } from '../../lib/httpchk/matcher.js'
import { MAX_TIMER_MS, booleanOption, describeValue, durationOption, featureOption, functionOption, numberOption, objectOption, rejectUnknownKeys, stringOption } from '../../lib/options.js'

export interface HttpchkDrainOptions {
  /** How long the app keeps serving once draining starts (`drain()`, a signal, or `app.close()`
   * with `onClose`), so that every balancer sees it go: HAProxy needs `fall` failed checks `inter`
   * apart, and the first can come up to one `inter` after draining starts, so `inter × (fall + 1)`.
   * The default is that for HAProxy's defaults (`inter 2s`, `fall 3`): 2000 × (3 + 1).
   * @default 8000
   * @unit ms */
  grace?: number
  /** Bounds the whole shutdown, counted from the moment draining starts: past it, every connection
   * still open is destroyed. At least `grace`.
   * @default grace + 10000
   * @unit ms */
  timeout?: number
  /** A bare `app.close()` also serves the grace before closing (for apps whose shutdown path only
   * calls `close()`). Off: `close()` is prompt, and the grace is served by `drain()` and the signals.
   * @default false */
  onClose?: boolean
  /** Drain, then close, on these signals: `true` = SIGTERM and SIGINT, or a list of signal names.
   * @default false */
  signals?: boolean | NodeJS.Signals[]
}

export interface HttpchkAgentOptions {
  /** TCP port for HAProxy's `agent-check`; 0 picks a free one (`app.backpressure.agentPort`).
   * @default (required) */
  port: number
  /** Address to bind: where only HAProxy can reach it.
   * @default '127.0.0.1' */
  host?: string
  /** Requests HAProxy may hold waiting for this process beyond what its executors run at once:
   * the agent sends `maxconn` = concurrency + `maxQueue`.
   * @default the executors' concurrency */
  maxQueue?: number
  /** Lowest weight percentage sent while up (0 lets the weight reach 0, which takes the server out).
   * @default 1 */
  minWeight?: number
  /** Every agent connection is destroyed this long after it opened: an absolute deadline, not an
   * idle timer, so a client trickling bytes cannot hold one.
   * @default 2000
   * @unit ms */
  timeout?: number
}

export interface HttpchkPluginOptions {
  /** Probe method(s); `GET` also answers `HEAD`. HAProxy's `option httpchk` sends `OPTIONS`.
   * @default 'OPTIONS' */
  method?: string | string[]
  /** Probe path, matched byte for byte; the query string is ignored. With method OPTIONS and path
   * '/', the asterisk form `OPTIONS *` (RFC 9110 §9.3.7) is answered too.
   * @default '/' */
  url?: string
  /** Sources (IP addresses, CIDR ranges) that get the probe's answer and whose
   * `X-Haproxy-Server-State` is recorded; a probe from elsewhere goes to the app as an ordinary request.
   * @default any source */
  allow?: string[]
  /** Named dependency checks, `{ db: (signal) => pool.query('select 1', { signal }) }`, run in the
   * background; a failing one makes the state `not-ready`.
   * @default {} */
  checks?: Record<string, DependencyCheck>
  /** Time between the end of one round of `checks` and the start of the next.
   * @default 5000
   * @unit ms */
  checkInterval?: number
  /** A check still running after this long fails, and its signal is aborted. At most `checkInterval`.
   * @default 2000
   * @unit ms */
  checkTimeout?: number
  /** The liveness check's path (GET and HEAD): 200 while the process answers, whatever the load;
   * 503 only when an executor is down.
   * @default false */
  liveness?: string | false
  /** Status of the probe's answer in every state but `free` (`starting`, `busy`, `not-ready`,
   * `draining`, `down`): 503, or 404 for HAProxy's `http-check disable-on-404`.
   * @default 503 */
  unavailableStatusCode?: number
  /** `Retry-After` on the probe's answers other than 200; 0 leaves the header out. Seconds, the
   * header's unit.
   * @default 1
   * @unit seconds */
  retryAfter?: number
  /** Answer a JSON body (the state, its reason, every executor's snapshot) instead of one word;
   * each failing check's error text too, only when `allow` limits who gets the answer.
   * @default false */
  verbose?: boolean
  /** Also answer busy when `isUnderPressure()` says so (the under-pressure plugin, `@fastify/under-pressure`).
   * @default false */
  underPressure?: boolean
  /** In a `node:cluster` worker, registration fails unless this says the worker listens on a port of
   * its own (`listen({ port: base + index, exclusive: true })`): on a port shared by the workers the
   * probe reaches a random one, and its answer says nothing about the others.
   * @default false */
  ownPort?: boolean
  /** Drain and shutdown.
   * @default {} */
  drain?: HttpchkDrainOptions
  /** The agent-check responder: an object turns it on.
   * @default false */
  agent?: HttpchkAgentOptions | false
}

export interface NormalizedAgentOptions {
  port: number
  host: string
  maxQueue: number | undefined
  minWeight: number
  timeoutMs: number
}

/** The options once checked, for the plugin's own use: here, and only here, a duration's name
 * carries its unit (`…Ms`). */
export interface NormalizedHttpchkOptions {
  /** Upper-case methods, HEAD added when GET is present. */
  methods: ReadonlySet<string>
  url: string
  allow: BlockList | undefined
  checks: Record<string, DependencyCheck>
  checkIntervalMs: number
  checkTimeoutMs: number
  livenessUrl: string | undefined
  unavailableStatusCode: number
  retryAfter: number
  verbose: boolean
  underPressure: boolean
  ownPort: boolean
  graceMs: number
  deadlineMs: number
  drainOnClose: boolean
  signals: NodeJS.Signals[]
  agent: NormalizedAgentOptions | undefined
}

const KNOWN_KEYS: readonly string[] = [
  'method', 'url', 'allow', 'checks', 'checkInterval', 'checkTimeout', 'liveness',
  'unavailableStatusCode', 'retryAfter', 'verbose', 'underPressure', 'ownPort', 'drain', 'agent'
]
const DRAIN_KEYS: readonly string[] = ['grace', 'timeout', 'onClose', 'signals']
const AGENT_KEYS: readonly string[] = ['port', 'host', 'maxQueue', 'minWeight', 'timeout']

// An HTTP token (RFC 9110 §5.6.2): what Node's parser accepts as a method.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// An origin-form path without query, dot segments or empty segments: the probe matches it byte for byte.
const PATH = { test: /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@%]+(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*)?$/, describe: 'a path starting with "/", without query, "//" or dot segments' }
const DEFAULT_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']
/** Signals a process cannot catch (signal(7)); Node refuses listeners for them. */
const UNCATCHABLE: ReadonlySet<string> = new Set(['SIGKILL', 'SIGSTOP'])
/** HAProxy's default check timing (configuration.txt §5.2 "inter", "fall"): the default grace is
 * inter × (fall + 1). */
const DEFAULT_GRACE_MS = 2000 * (3 + 1)
/** How much longer than the grace the whole shutdown may take, by default. */
const DEFAULT_DEADLINE_MARGIN_MS = 10_000

function normalizeMethods (value: unknown): Set<string> {
  if (value === undefined) return new Set(['OPTIONS'])
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) throw new InvalidOptionError('httpchk.method', 'an HTTP method or a non-empty array of them', describeValue(value))
  const methods = new Set<string>()
  for (const method of list) {
    if (typeof method !== 'string' || !METHOD.test(method)) {
      throw new InvalidOptionError('httpchk.method', 'an HTTP method or a non-empty array of them', describeValue(value))
    }
    methods.add(method.toUpperCase())
  }
  // Node answers HEAD like GET with the body left out; a probe that accepts GET accepts HEAD too.
  if (methods.has('GET')) methods.add('HEAD')
  return methods
}

function normalizeUrl (option: string, value: unknown, fallback: string): string {
  const url = stringOption(option, value, fallback, PATH)
  if (url.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new InvalidOptionError(option, PATH.describe, describeValue(value))
  }
  return url
}

function normalizeAllow (value: unknown): BlockList | undefined {
  if (value === undefined) return undefined
  const expected = 'a non-empty array of IP addresses or CIDR ranges (e.g. "127.0.0.1", "10.0.0.0/8", "::1")'
  if (!Array.isArray(value) || value.length === 0 || !value.every((entry) => typeof entry === 'string')) {
    throw new InvalidOptionError('httpchk.allow', expected, describeValue(value))
  }
  try {
    return allowList(value as string[])
  } catch (error) {
    throw new InvalidOptionError('httpchk.allow', `${expected}; ${(error as Error).message}`, describeValue(value))
  }
}

function normalizeChecks (value: unknown): Record<string, DependencyCheck> {
  const checks = objectOption('httpchk.checks', value)
  for (const [name, check] of Object.entries(checks)) functionOption(`httpchk.checks.${name}`, check)
  return checks as Record<string, DependencyCheck>
}

function normalizeLiveness (value: unknown): string | undefined {
  if (value === undefined || value === false) return undefined
  if (typeof value !== 'string') throw new InvalidOptionError('httpchk.liveness', `false or ${PATH.describe}`, describeValue(value))
  return normalizeUrl('httpchk.liveness', value, '')
}

function normalizeSignals (value: unknown): NodeJS.Signals[] {
  if (value === undefined || value === false) return []
  if (value === true) return [...DEFAULT_SIGNALS]
  const expected = 'a boolean or a non-empty array of signal names (e.g. "SIGTERM")'
  if (!Array.isArray(value) || value.length === 0) throw new InvalidOptionError('httpchk.drain.signals', expected, describeValue(value))
  for (const signal of value) {
    if (typeof signal !== 'string' || !Object.hasOwn(constants.signals, signal)) {
      throw new InvalidOptionError('httpchk.drain.signals', `${expected}; ${describeValue(signal)} is not a signal`, describeValue(value))
    }
    if (UNCATCHABLE.has(signal)) {
      throw new InvalidOptionError('httpchk.drain.signals', `${expected}; ${signal} cannot be caught`, describeValue(value))
    }
  }
  return [...new Set(value as NodeJS.Signals[])]
}

function normalizeAgent (value: unknown): NormalizedAgentOptions | undefined {
  const agent = featureOption('httpchk.agent', value)
  if (agent === undefined) return undefined
  rejectUnknownKeys('httpchk.agent', agent, AGENT_KEYS)
  if (agent.port === undefined) throw new InvalidOptionError('httpchk.agent.port', 'an integer from 0 to 65535', describeValue(agent.port))
  return {
    port: numberOption('httpchk.agent.port', agent.port, 0, { integer: true, min: 0, max: 65535 }),
    host: stringOption('httpchk.agent.host', agent.host, '127.0.0.1'),
    maxQueue: agent.maxQueue === undefined ? undefined : numberOption('httpchk.agent.maxQueue', agent.maxQueue, 0, { integer: true, min: 0, max: 1_000_000 }),
    minWeight: numberOption('httpchk.agent.minWeight', agent.minWeight, 1, { integer: true, min: 0, max: 100 }),
    timeoutMs: durationOption('httpchk.agent.timeout', agent.timeout, 2000, { integer: true, min: 1 })
  }
}

export function normalizeHttpchkOptions (raw: unknown): NormalizedHttpchkOptions {
  const options = objectOption('httpchk', raw)
  rejectUnknownKeys('httpchk', options, KNOWN_KEYS)
  const drain = objectOption('httpchk.drain', options.drain)
  rejectUnknownKeys('httpchk.drain', drain, DRAIN_KEYS)

  const graceMs = durationOption('httpchk.drain.grace', drain.grace, DEFAULT_GRACE_MS, { integer: true })
  const deadlineMs = durationOption('httpchk.drain.timeout', drain.timeout, Math.min(graceMs + DEFAULT_DEADLINE_MARGIN_MS, MAX_TIMER_MS), { integer: true, min: graceMs })
  const checkIntervalMs = durationOption('httpchk.checkInterval', options.checkInterval, 5000, { integer: true, min: 1 })
  const checkTimeoutMs = durationOption('httpchk.checkTimeout', options.checkTimeout, Math.min(2000, checkIntervalMs), { integer: true, min: 1, max: checkIntervalMs })

  const methods = normalizeMethods(options.method)
  const url = normalizeUrl('httpchk.url', options.url, '/')
  const livenessUrl = normalizeLiveness(options.liveness)
  if (livenessUrl === url && (methods.has('GET') || methods.has('HEAD'))) {
    throw new InvalidOptionError('httpchk.liveness', `a path other than the probe's (${[...methods].join('/')} ${url})`, describeValue(livenessUrl))
  }

  return {
    methods,
    url,
    allow: normalizeAllow(options.allow),
    checks: normalizeChecks(options.checks),
    checkIntervalMs,
    checkTimeoutMs,
    livenessUrl,
    unavailableStatusCode: numberOption('httpchk.unavailableStatusCode', options.unavailableStatusCode, 503, { integer: true, min: 400, max: 599 }),
    retryAfter: numberOption('httpchk.retryAfter', options.retryAfter, 1, { integer: true, min: 0, max: 86400 }),
    verbose: booleanOption('httpchk.verbose', options.verbose, false),
    underPressure: booleanOption('httpchk.underPressure', options.underPressure, false),
    ownPort: booleanOption('httpchk.ownPort', options.ownPort, false),
    graceMs,
    deadlineMs,
    drainOnClose: booleanOption('httpchk.drain.onClose', drain.onClose, false),
    signals: normalizeSignals(drain.signals),
    agent: normalizeAgent(options.agent)
  }
}
