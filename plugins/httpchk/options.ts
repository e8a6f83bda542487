/**
 * Options of the httpchk plugin. Validated once, when the plugin registers; each error names the
 * option (`httpchk.<name>`) and the value received.
 *
 * | option                | default                         | notes                                                           |
 * |-----------------------|---------------------------------|-----------------------------------------------------------------|
 * | method                | 'OPTIONS'                       | one method or an array; `GET` also answers `HEAD`               |
 * | url                   | '/'                             | exact path; the query string is ignored                         |
 * | allow                 | any source                      | addresses / CIDR ranges that get the probe; others pass to the app |
 * | busyStatusCode        | 503                             | 400–599; 404 for `http-check disable-on-404` (NOLB)             |
 * | retryAfter            | 1                               | seconds in `Retry-After` on busy answers; 0 leaves it out       |
 * | verbose               | false                           | JSON body with the snapshot instead of one word                 |
 * | underPressure         | false                           | @fastify/under-pressure's `isUnderPressure()` also means busy   |
 * | checks                | {}                              | named dependency checks, `(signal) => Promise`, in the background |
 * | checkIntervalMs       | 5000                            | ms between two rounds of checks                                 |
 * | checkTimeoutMs        | 2000                            | ms a check may take before it fails (≤ checkIntervalMs)         |
 * | liveness              | false (off)                     | `{ url }`: 200 while the event loop answers, 503 when down      |
 * | maxServerStateNodes   | 16                              | balancer nodes whose `X-Haproxy-Server-State` is remembered     |
 * | ownPort               | false                           | in a node:cluster worker: true when it listens on a port of its own |
 * | haproxy.inter         | 2000                            | ms, HAProxy's `inter` (check interval), for the drain grace     |
 * | haproxy.fall          | 3                               | HAProxy's `fall`, for the drain grace                           |
 * | drain.graceMs         | inter × (fall + 1)              | how long to keep serving once draining starts                   |
 * | drain.deadlineMs      | graceMs + 10000                 | bounds the whole shutdown; then every connection is destroyed  |
 * | drain.onClose         | false                           | true: a bare `app.close()` also serves the grace first          |
 * | drain.signals         | false                           | true = SIGTERM and SIGINT; or a list of signal names            |
 * | agent                 | false (off)                     | an object turns the agent-check responder on                    |
 * | agent.port            | (required)                      | 0–65535; 0 picks a free port (`app.backpressure.agentPort`)     |
 * | agent.host            | '127.0.0.1'                     | address to bind                                                 |
 * | agent.queue           | the pool's capacity             | requests HAProxy may send beyond capacity (`maxconn`)           |
 * | agent.minWeight       | 1                               | lowest weight % sent while up (0 takes the server out)          |
 * | agent.timeoutMs       | 2000                            | a connection is destroyed after this long                       |
 * | agent.maxConnections  | 64                              | connections held at once; more are refused                      |
 */
import { constants } from 'node:os'
import type { BlockList } from 'node:net'
import { InvalidOptionError, describeValue } from '../../lib/errors.js'
import type { DependencyCheck } from '../../lib/dependency-checks.js'
import { allowList } from '../../lib/probe/matcher.js'
import { booleanOption, functionOption, numberOption, objectOption, rejectUnknownKeys, rejectUnknownPluginKeys, stringOption } from '../../lib/validate.js'

export interface HttpchkHaproxyOptions {
  /** HAProxy's `inter` in ms (default 2000). */
  inter?: number
  /** HAProxy's `fall` (default 3). */
  fall?: number
}

export interface HttpchkDrainOptions {
  /** How long to keep serving after draining starts, in ms.
   * @default haproxy.inter × (haproxy.fall + 1) */
  graceMs?: number
  /** Bounds the whole shutdown, in ms from the moment draining starts: past it, every connection
   * still open is destroyed. At least `graceMs`.
   * @default graceMs + 10000 */
  deadlineMs?: number
  /** A bare `app.close()` also serves the grace before closing (for apps whose shutdown path only
   * calls `close()`). Off: `close()` is prompt, and the grace is served by `drain()` and the signals.
   * @default false */
  onClose?: boolean
  /** Drain then close on these signals: `true` = SIGTERM and SIGINT. Default false. */
  signals?: boolean | NodeJS.Signals[]
}

export interface HttpchkAgentOptions {
  /** TCP port for HAProxy's `agent-check`; 0 picks a free one. */
  port: number
  /** Address to bind. Default '127.0.0.1'. */
  host?: string
  /** Requests HAProxy may send beyond what the pool runs at once (`maxconn` = capacity + queue). Default: the capacity. */
  queue?: number
  /** Lowest weight percentage sent while up. Default 1. */
  minWeight?: number
  /** A connection is destroyed after this many ms. Default 2000. */
  timeoutMs?: number
  /** Connections held at once. Default 64. */
  maxConnections?: number
}

export interface HttpchkLivenessOptions {
  /** Path of the liveness check, answered to GET and HEAD. */
  url: string
}

export interface HttpchkPluginOptions {
  /** Probe method(s). Default 'OPTIONS' (HAProxy's `option httpchk`). `GET` also answers `HEAD`. */
  method?: string | string[]
  /** Probe path, matched exactly; with method OPTIONS and path '/', `OPTIONS *` is answered too. Default '/'. */
  url?: string
  /** Sources (IP addresses, CIDR ranges) that get the probe's answer and whose
   * `X-Haproxy-Server-State` is recorded; a probe from elsewhere goes to the app as an ordinary request.
   * @default any source */
  allow?: string[]
  /** Named dependency checks, run in the background; a failing one makes the state `not-ready`.
   * @default {} */
  checks?: Record<string, DependencyCheck>
  /** Milliseconds between two rounds of `checks`.
   * @default 5000 */
  checkIntervalMs?: number
  /** Milliseconds a check may take before it fails and its signal is aborted (at most `checkIntervalMs`).
   * @default 2000 */
  checkTimeoutMs?: number
  /** The liveness check: 200 while the process answers, whatever the load; 503 only when an
   * executor is down. Off unless given.
   * @default false */
  liveness?: HttpchkLivenessOptions | false
  /** Status code when busy, draining or down. Default 503. */
  busyStatusCode?: number
  /** `Retry-After` seconds on busy answers; 0 leaves the header out. Default 1. */
  retryAfter?: number
  /** Answer a JSON snapshot instead of one word. Default false. */
  verbose?: boolean
  /** Also answer busy when @fastify/under-pressure says so. Default false. */
  underPressure?: boolean
  /** Balancer nodes whose `X-Haproxy-Server-State` is kept. Default 16. */
  maxServerStateNodes?: number
  /** In a `node:cluster` worker, registration fails unless this says the worker listens on a port of
   * its own (`listen({ port: base + index, exclusive: true })`): on a port shared by the workers the
   * probe reaches a random one, and its answer says nothing about the others.
   * @default false */
  ownPort?: boolean
  haproxy?: HttpchkHaproxyOptions
  drain?: HttpchkDrainOptions
  /** Agent-check responder; off by default. */
  agent?: HttpchkAgentOptions | false
}

export interface NormalizedAgentOptions {
  port: number
  host: string
  queue: number | undefined
  minWeight: number
  timeoutMs: number
  maxConnections: number
}

export interface NormalizedHttpchkOptions {
  /** Upper-case methods, HEAD added when GET is present. */
  methods: ReadonlySet<string>
  url: string
  allow: BlockList | undefined
  checks: Record<string, DependencyCheck>
  checkIntervalMs: number
  checkTimeoutMs: number
  livenessUrl: string | undefined
  busyStatusCode: number
  retryAfter: number
  verbose: boolean
  underPressure: boolean
  maxServerStateNodes: number
  ownPort: boolean
  graceMs: number
  deadlineMs: number
  drainOnClose: boolean
  signals: NodeJS.Signals[]
  agent: NormalizedAgentOptions | undefined
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'method', 'url', 'allow', 'checks', 'checkIntervalMs', 'checkTimeoutMs', 'liveness',
  'busyStatusCode', 'retryAfter', 'verbose', 'underPressure', 'maxServerStateNodes', 'ownPort', 'haproxy', 'drain', 'agent'
])
const LIVENESS_KEYS: ReadonlySet<string> = new Set(['url'])
const HAPROXY_KEYS: ReadonlySet<string> = new Set(['inter', 'fall'])
const DRAIN_KEYS: ReadonlySet<string> = new Set(['graceMs', 'deadlineMs', 'onClose', 'signals'])
const AGENT_KEYS: ReadonlySet<string> = new Set(['port', 'host', 'queue', 'minWeight', 'timeoutMs', 'maxConnections'])

// An HTTP token (RFC 9110 §5.6.2): what Node's parser accepts as a method.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// An origin-form path without query, dot segments or empty segments: the probe matches it byte for byte.
const PATH = { test: /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@%]+(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*)?$/, describe: 'a path starting with "/", without query, "//" or dot segments' }
const DEFAULT_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']
/** Signals a process cannot catch (signal(7)); Node refuses listeners for them. */
const UNCATCHABLE: ReadonlySet<string> = new Set(['SIGKILL', 'SIGSTOP'])
/** How much longer than the grace the whole shutdown may take, by default. */
const DEFAULT_DEADLINE_MARGIN_MS = 10_000
const MAX_TIMER_MS = 2 ** 31 - 1

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
  const liveness = objectOption('httpchk.liveness', value)
  rejectUnknownKeys('httpchk.liveness', liveness, LIVENESS_KEYS)
  if (liveness.url === undefined) throw new InvalidOptionError('httpchk.liveness.url', PATH.describe, 'undefined')
  return normalizeUrl('httpchk.liveness.url', liveness.url, '')
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
  if (value === undefined || value === false) return undefined
  const agent = objectOption('httpchk.agent', value)
  rejectUnknownKeys('httpchk.agent', agent, AGENT_KEYS)
  if (agent.port === undefined) throw new InvalidOptionError('httpchk.agent.port', 'an integer from 0 to 65535', describeValue(agent.port))
  return {
    port: numberOption('httpchk.agent.port', agent.port, 0, { integer: true, min: 0, max: 65535 }),
    host: stringOption('httpchk.agent.host', agent.host, '127.0.0.1'),
    queue: agent.queue === undefined ? undefined : numberOption('httpchk.agent.queue', agent.queue, 0, { integer: true, min: 0, max: 1_000_000 }),
    minWeight: numberOption('httpchk.agent.minWeight', agent.minWeight, 1, { integer: true, min: 0, max: 100 }),
    timeoutMs: numberOption('httpchk.agent.timeoutMs', agent.timeoutMs, 2000, { integer: true, min: 1, max: MAX_TIMER_MS }),
    maxConnections: numberOption('httpchk.agent.maxConnections', agent.maxConnections, 64, { integer: true, min: 1, max: 65535 })
  }
}

export function normalizeHttpchkOptions (raw: unknown): NormalizedHttpchkOptions {
  const options = objectOption('httpchk', raw)
  rejectUnknownPluginKeys('httpchk', options, KNOWN_KEYS)
  const haproxy = objectOption('httpchk.haproxy', options.haproxy)
  rejectUnknownKeys('httpchk.haproxy', haproxy, HAPROXY_KEYS)
  const drain = objectOption('httpchk.drain', options.drain)
  rejectUnknownKeys('httpchk.drain', drain, DRAIN_KEYS)

  const inter = numberOption('httpchk.haproxy.inter', haproxy.inter, 2000, { integer: true, min: 1, max: 3_600_000 })
  const fall = numberOption('httpchk.haproxy.fall', haproxy.fall, 3, { integer: true, min: 1, max: 1000 })
  // HAProxy needs `fall` failed checks `inter` apart, and the first one can come up to one `inter`
  // after draining starts (configuration.txt §5.2 "inter", "fall"): inter × (fall + 1) covers both.
  const graceMs = numberOption('httpchk.drain.graceMs', drain.graceMs, Math.min(inter * (fall + 1), MAX_TIMER_MS), { integer: true, min: 0, max: MAX_TIMER_MS })
  const deadlineMs = numberOption('httpchk.drain.deadlineMs', drain.deadlineMs, Math.min(graceMs + DEFAULT_DEADLINE_MARGIN_MS, MAX_TIMER_MS), { integer: true, min: graceMs, max: MAX_TIMER_MS })
  const checkIntervalMs = numberOption('httpchk.checkIntervalMs', options.checkIntervalMs, 5000, { integer: true, min: 1, max: MAX_TIMER_MS })
  const checkTimeoutMs = numberOption('httpchk.checkTimeoutMs', options.checkTimeoutMs, Math.min(2000, checkIntervalMs), { integer: true, min: 1, max: checkIntervalMs })

  const methods = normalizeMethods(options.method)
  const url = normalizeUrl('httpchk.url', options.url, '/')
  const livenessUrl = normalizeLiveness(options.liveness)
  if (livenessUrl === url && (methods.has('GET') || methods.has('HEAD'))) {
    throw new InvalidOptionError('httpchk.liveness.url', `a path other than the probe's (${[...methods].join('/')} ${url})`, describeValue(livenessUrl))
  }

  return {
    methods,
    url,
    allow: normalizeAllow(options.allow),
    checks: normalizeChecks(options.checks),
    checkIntervalMs,
    checkTimeoutMs,
    livenessUrl,
    busyStatusCode: numberOption('httpchk.busyStatusCode', options.busyStatusCode, 503, { integer: true, min: 400, max: 599 }),
    retryAfter: numberOption('httpchk.retryAfter', options.retryAfter, 1, { integer: true, min: 0, max: 86400 }),
    verbose: booleanOption('httpchk.verbose', options.verbose, false),
    underPressure: booleanOption('httpchk.underPressure', options.underPressure, false),
    maxServerStateNodes: numberOption('httpchk.maxServerStateNodes', options.maxServerStateNodes, 16, { integer: true, min: 0, max: 10_000 }),
    ownPort: booleanOption('httpchk.ownPort', options.ownPort, false),
    graceMs,
    deadlineMs,
    drainOnClose: booleanOption('httpchk.drain.onClose', drain.onClose, false),
    signals: normalizeSignals(drain.signals),
    agent: normalizeAgent(options.agent)
  }
}
