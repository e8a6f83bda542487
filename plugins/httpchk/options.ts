/**
 * Options of the httpchk plugin. Validated once, when the plugin registers; each error names the
 * option (`httpchk.<name>`) and the value received.
 *
 * | option                | default                         | notes                                                           |
 * |-----------------------|---------------------------------|-----------------------------------------------------------------|
 * | method                | 'OPTIONS'                       | one method or an array; `GET` also answers `HEAD`               |
 * | url                   | '/'                             | exact path; the query string is ignored                         |
 * | busyStatusCode        | 503                             | 400–599; 404 for `http-check disable-on-404` (NOLB)             |
 * | retryAfter            | 1                               | seconds in `Retry-After` on busy answers; 0 leaves it out       |
 * | verbose               | false                           | JSON body with the snapshot instead of one word                 |
 * | underPressure         | false                           | @fastify/under-pressure's `isUnderPressure()` also means busy   |
 * | maxServerStateNodes   | 16                              | balancer nodes whose `X-Haproxy-Server-State` is remembered     |
 * | haproxy.inter         | 2000                            | ms, HAProxy's `inter` (check interval), for the drain grace     |
 * | haproxy.fall          | 3                               | HAProxy's `fall`, for the drain grace                           |
 * | drain.graceMs         | inter × (fall + 1)              | how long to keep serving once draining starts                   |
 * | drain.signals         | false                           | true = SIGTERM and SIGINT; or a list of signal names            |
 * | agent                 | false (off)                     | an object turns the agent-check responder on                    |
 * | agent.port            | (required)                      | 0–65535; 0 picks a free port (`app.backpressure.agentPort`)     |
 * | agent.host            | '127.0.0.1'                     | address to bind                                                 |
 * | agent.queue           | the pool's capacity             | requests HAProxy may send beyond capacity (`maxconn`)           |
 * | agent.minWeight       | 1                               | lowest weight % sent while up (0 takes the server out)          |
 * | agent.timeoutMs       | 2000                            | a connection is destroyed after this long                       |
 * | agent.maxConnections  | 64                              | connections held at once; more are refused                      |
 */
import { InvalidOptionError, describeValue } from '../../lib/errors.js'
import { booleanOption, numberOption, objectOption, rejectUnknownKeys, stringOption } from '../../lib/validate.js'

export interface HttpchkHaproxyOptions {
  /** HAProxy's `inter` in ms (default 2000). */
  inter?: number
  /** HAProxy's `fall` (default 3). */
  fall?: number
}

export interface HttpchkDrainOptions {
  /** How long to keep serving after draining starts, in ms. Default `haproxy.inter × (haproxy.fall + 1)`. */
  graceMs?: number
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

export interface HttpchkPluginOptions {
  /** Probe method(s). Default 'OPTIONS' (HAProxy's `option httpchk`). `GET` also answers `HEAD`. */
  method?: string | string[]
  /** Probe path, matched exactly. Default '/'. */
  url?: string
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
  busyStatusCode: number
  retryAfter: number
  verbose: boolean
  underPressure: boolean
  maxServerStateNodes: number
  graceMs: number
  signals: NodeJS.Signals[]
  agent: NormalizedAgentOptions | undefined
}

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'method', 'url', 'busyStatusCode', 'retryAfter', 'verbose', 'underPressure', 'maxServerStateNodes', 'haproxy', 'drain', 'agent'
])
const HAPROXY_KEYS: ReadonlySet<string> = new Set(['inter', 'fall'])
const DRAIN_KEYS: ReadonlySet<string> = new Set(['graceMs', 'signals'])
const AGENT_KEYS: ReadonlySet<string> = new Set(['port', 'host', 'queue', 'minWeight', 'timeoutMs', 'maxConnections'])

// An HTTP token (RFC 9110 §5.6.2): what Node's parser accepts as a method.
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// An origin-form path without query, dot segments or empty segments: the probe matches it byte for byte.
const PATH = { test: /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@%]+(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*)?$/, describe: 'a path starting with "/", without query, "//" or dot segments' }
const DEFAULT_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']
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

function normalizeUrl (value: unknown): string {
  const url = stringOption('httpchk.url', value, '/', PATH)
  if (url.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw new InvalidOptionError('httpchk.url', PATH.describe, describeValue(value))
  }
  return url
}

function normalizeSignals (value: unknown): NodeJS.Signals[] {
  if (value === undefined || value === false) return []
  if (value === true) return [...DEFAULT_SIGNALS]
  const expected = 'a boolean or a non-empty array of signal names (e.g. "SIGTERM")'
  if (!Array.isArray(value) || value.length === 0) throw new InvalidOptionError('httpchk.drain.signals', expected, describeValue(value))
  for (const signal of value) {
    if (typeof signal !== 'string' || !/^SIG[A-Z0-9]+$/.test(signal)) throw new InvalidOptionError('httpchk.drain.signals', expected, describeValue(value))
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
  rejectUnknownKeys('httpchk', options, KNOWN_KEYS)
  const haproxy = objectOption('httpchk.haproxy', options.haproxy)
  rejectUnknownKeys('httpchk.haproxy', haproxy, HAPROXY_KEYS)
  const drain = objectOption('httpchk.drain', options.drain)
  rejectUnknownKeys('httpchk.drain', drain, DRAIN_KEYS)

  const inter = numberOption('httpchk.haproxy.inter', haproxy.inter, 2000, { integer: true, min: 1, max: 3_600_000 })
  const fall = numberOption('httpchk.haproxy.fall', haproxy.fall, 3, { integer: true, min: 1, max: 1000 })
  // HAProxy needs `fall` failed checks `inter` apart, and the first one can come up to one `inter`
  // after draining starts (configuration.txt §5.2 "inter", "fall"): inter × (fall + 1) covers both.
  const graceMs = numberOption('httpchk.drain.graceMs', drain.graceMs, Math.min(inter * (fall + 1), MAX_TIMER_MS), { integer: true, min: 0, max: MAX_TIMER_MS })

  return {
    methods: normalizeMethods(options.method),
    url: normalizeUrl(options.url),
    busyStatusCode: numberOption('httpchk.busyStatusCode', options.busyStatusCode, 503, { integer: true, min: 400, max: 599 }),
    retryAfter: numberOption('httpchk.retryAfter', options.retryAfter, 1, { integer: true, min: 0, max: 86400 }),
    verbose: booleanOption('httpchk.verbose', options.verbose, false),
    underPressure: booleanOption('httpchk.underPressure', options.underPressure, false),
    maxServerStateNodes: numberOption('httpchk.maxServerStateNodes', options.maxServerStateNodes, 16, { integer: true, min: 0, max: 10_000 }),
    graceMs,
    signals: normalizeSignals(drain.signals),
    agent: normalizeAgent(options.agent)
  }
}
