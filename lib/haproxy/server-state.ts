/**
 * HAProxy's `X-Haproxy-Server-State` header (configuration.txt §4.2 "http-check send-state"), e.g.
 * `UP 1/2; address=127.0.0.1; port=43109; name=be_app/a; node=lb1; weight=100/200; scur=0/0; qcur=0`:
 * what one balancer node thought of this server *before* the check that carries it. Parsing never
 * throws and the table is bounded, so a client inventing node names cannot grow memory.
 */

export interface HaproxyServerState {
  /** The balancer node (`node=`, HAProxy's `node` global setting or its host name); '' if absent. */
  node: string
  /** `backend/server` as HAProxy names this server (`name=`), if sent. */
  name: string | undefined
  /** `UP`, `DOWN`, `NOLB` or `no check`. */
  state: 'UP' | 'DOWN' | 'NOLB' | 'no check'
  /** The `n/m` after the state while it is changing (e.g. `UP 1/2`): checks counted so far / needed. */
  checks: { count: number, of: number } | undefined
  /** `weight=cur/total`: this server's effective weight and the backend's total. */
  weight: { server: number, backend: number } | undefined
  /** `scur=cur/total`: sessions on this server and on the whole backend. */
  scur: { server: number, backend: number } | undefined
  /** `qcur=N`: requests waiting in HAProxy's queue for this server. */
  qcur: number | undefined
  /** `throttle=N%` during slowstart. */
  throttle: number | undefined
  /** When this header was received (ms since epoch). */
  seenAt: number
}

/** Balancer nodes whose last state is kept: more than any deployment runs in front of one process.
 * Past it, the least recently updated node goes first. */
export const MAX_SERVER_STATE_NODES = 16

/** Longer headers are not parsed: a real one is about 120 bytes. */
export const MAX_SERVER_STATE_LENGTH = 1024

// The states HAProxy 2.6 writes (src/check.c, srv_hlt_st): anything else is not its header.
const STATE = /^(UP|DOWN|NOLB|no check)(?: (\d{1,9})\/(\d{1,9}))?$/
const PAIR = /^(\d{1,12})\/(\d{1,12})$/
const COUNT = /^\d{1,12}$/
const PERCENT = /^(\d{1,3})%$/
const NAME = /^[\x21-\x7e]{1,256}$/

function pair (value: string | undefined): { server: number, backend: number } | undefined {
  const match = value === undefined ? null : PAIR.exec(value)
  return match === null ? undefined : { server: Number(match[1]), backend: Number(match[2]) }
}

function count (value: string | undefined): number | undefined {
  return value !== undefined && COUNT.test(value) ? Number(value) : undefined
}

/**
 * Parses one header value. Returns undefined when the STATE part is missing or malformed; unknown
 * or malformed `key=value` fields are skipped one by one.
 */
export function parseServerState (header: string, now: number = Date.now()): HaproxyServerState | undefined {
  if (header.length === 0 || header.length > MAX_SERVER_STATE_LENGTH) return undefined
  const parts = header.split(';')
  const head = STATE.exec((parts[0] as string).trim())
  if (head === null) return undefined
  const fields = new Map<string, string>()
  for (let i = 1; i < parts.length; i++) {
    const part = (parts[i] as string).trim()
    const equals = part.indexOf('=')
    if (equals > 0) fields.set(part.slice(0, equals), part.slice(equals + 1))
  }
  const state = head[1] as string
  const node = fields.get('node')
  const name = fields.get('name')
  const throttle = PERCENT.exec(fields.get('throttle') ?? '')
  return {
    node: node !== undefined && NAME.test(node) ? node : '',
    name: name !== undefined && NAME.test(name) ? name : undefined,
    state: state as HaproxyServerState['state'],
    checks: head[2] === undefined ? undefined : { count: Number(head[2]), of: Number(head[3]) },
    weight: pair(fields.get('weight')),
    scur: pair(fields.get('scur')),
    qcur: count(fields.get('qcur')),
    throttle: throttle === null ? undefined : Number(throttle[1]),
    seenAt: now
  }
}

/** The last state seen per node, at most `maxNodes` of them: the least recently updated node goes first. */
export class ServerStateTable {
  readonly #maxNodes: number
  readonly #byNode = new Map<string, HaproxyServerState>()

  constructor (maxNodes: number = MAX_SERVER_STATE_NODES) {
    this.#maxNodes = maxNodes
  }

  /** Parses `header` and records it. Returns the parsed state, or undefined for garbage (ignored). */
  record (header: string, now?: number): HaproxyServerState | undefined {
    const state = parseServerState(header, now)
    if (state === undefined) return undefined
    // Re-inserting moves the node to the end of the Map's order, which makes eviction least-recent-first.
    this.#byNode.delete(state.node)
    this.#byNode.set(state.node, state)
    if (this.#byNode.size > this.#maxNodes) {
      const oldest = this.#byNode.keys().next().value as string
      this.#byNode.delete(oldest)
    }
    return state
  }

  get (node: string): HaproxyServerState | undefined {
    return this.#byNode.get(node)
  }

  /** Every node kept, least recently updated first. */
  list (): HaproxyServerState[] {
    return [...this.#byNode.values()]
  }

  get size (): number {
    return this.#byNode.size
  }
}
