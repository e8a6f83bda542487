/**
 * Which requests are the health probe, and which the liveness check: one matcher for both doors
 * (the front door for real requests, the `onRequest` hook for `app.inject()`). It runs on every
 * request, so a request that is not a probe must cost no more than one `Set.has` of its method and
 * one string compare of its path.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net'

/** What a matched request is. `undefined`: an ordinary request, for the app. */
export type ProbeKind = 'probe' | 'liveness' | undefined

/** The part of Node's request (HTTP/1 `IncomingMessage`, HTTP/2 compat `Http2ServerRequest`, or
 * light-my-request's) the matcher reads. */
export interface MatchableRequest {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers: Record<string, string | string[] | undefined>
  readonly socket: { readonly remoteAddress?: string | undefined } | null
}

export interface ProbeMatcherOptions {
  /** Upper-case methods answered as the probe. */
  methods: ReadonlySet<string>
  /** The probe's exact path. */
  url: string
  /** The liveness path (answered to GET and HEAD), or undefined when off. */
  livenessUrl: string | undefined
  /** Sources allowed to get an answer; undefined: any. */
  allow: BlockList | undefined
}

const LIVENESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD'])

/**
 * Builds the matcher: exact path, query ignored, CORS preflights left to the app. `OPTIONS *`
 * (RFC 9110 §9.3.7) is the probe when the probe is `OPTIONS /`: Apache's `hcmethod=OPTIONS` sends
 * it whatever `hcuri` says, as does HAProxy's `option httpchk OPTIONS *`. `/*` is an ordinary path.
 */
export function createProbeMatcher (options: ProbeMatcherOptions): (request: MatchableRequest) => ProbeKind {
  const { methods, url, livenessUrl, allow } = options
  const asteriskForm = url === '/' && methods.has('OPTIONS')
  return function matchProbe (request) {
    const method = request.method as string
    let kind: ProbeKind
    if (methods.has(method) && (pathOf(request.url) === url || (asteriskForm && method === 'OPTIONS' && request.url === '*'))) {
      // A CORS preflight belongs to the app (Fetch standard §3.2.2), even on the probe's path.
      if (method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) return undefined
      kind = 'probe'
    } else if (livenessUrl !== undefined && LIVENESS_METHODS.has(method) && pathOf(request.url) === livenessUrl) {
      kind = 'liveness'
    } else {
      return undefined
    }
    return allow === undefined || isAllowed(allow, request.socket?.remoteAddress) ? kind : undefined
  }
}

/** The request target's path: everything before `?`. */
function pathOf (target: string | undefined): string {
  const value = target as string
  const query = value.indexOf('?')
  return query === -1 ? value : value.slice(0, query)
}

/** Builds the `allow` list with Node's own `BlockList` (addresses and CIDR ranges, IPv4 and IPv6).
 * Throws with the entry at fault so that the option's validator can name it. */
export function allowList (entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const slash = entry.indexOf('/')
    const address = slash === -1 ? entry : entry.slice(0, slash)
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined
    if (family === undefined) throw new RangeError(`not an IP address or CIDR range: ${entry}`)
    if (slash === -1) {
      list.addAddress(address, family)
      continue
    }
    const prefixText = entry.slice(slash + 1)
    const prefix = Number(prefixText)
    if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 'ipv4' ? 32 : 128)) throw new RangeError(`not a CIDR prefix length: ${entry}`)
    list.addSubnet(address, prefix, family)
  }
  return list
}

function isAllowed (allow: BlockList, address: string | undefined): boolean {
  if (address === undefined) return false
  if (isIPv4(address)) return allow.check(address, 'ipv4')
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d: match them against IPv4 entries too.
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return allow.check(address.slice(7), 'ipv4') || allow.check(address, 'ipv6')
  return allow.check(address, 'ipv6')
}
