import t from 'tap'
import { allowList, createProbeMatcher, type MatchableRequest } from '../../../lib/probe/matcher.js'

const request = (method: string, url: string, remoteAddress = '127.0.0.1', headers: Record<string, string> = {}): MatchableRequest =>
  ({ method, url, headers, socket: { remoteAddress } })

t.test('probe and liveness: exact path, query ignored, CORS preflight left to the app', async (t) => {
  const match = createProbeMatcher({ methods: new Set(['OPTIONS']), url: '/', livenessUrl: '/livez', allow: undefined })
  t.equal(match(request('OPTIONS', '/')), 'probe')
  t.equal(match(request('OPTIONS', '/?x=1')), 'probe')
  t.equal(match(request('OPTIONS', '/x')), undefined)
  t.equal(match(request('GET', '/')), undefined)
  t.equal(match(request('OPTIONS', '/', '127.0.0.1', { 'access-control-request-method': 'PUT' })), undefined, 'preflight')
  t.equal(match(request('GET', '/livez')), 'liveness')
  t.equal(match(request('HEAD', '/livez?verbose')), 'liveness')
  t.equal(match(request('POST', '/livez')), undefined)
  const noLiveness = createProbeMatcher({ methods: new Set(['GET', 'HEAD']), url: '/healthz', livenessUrl: undefined, allow: undefined })
  t.equal(noLiveness(request('GET', '/livez')), undefined)
  t.equal(noLiveness(request('HEAD', '/healthz')), 'probe')
})

t.test('allow: IPv4, IPv6, CIDR ranges, IPv4-mapped peers; unknown peer address refused', async (t) => {
  const allow = allowList(['127.0.0.2', '10.0.0.0/8', '::1', 'fd00::/8'])
  const match = createProbeMatcher({ methods: new Set(['OPTIONS']), url: '/', livenessUrl: '/livez', allow })
  t.equal(match(request('OPTIONS', '/', '127.0.0.2')), 'probe')
  t.equal(match(request('OPTIONS', '/', '10.9.8.7')), 'probe')
  t.equal(match(request('OPTIONS', '/', '127.0.0.1')), undefined)
  t.equal(match(request('OPTIONS', '/', '::1')), 'probe')
  t.equal(match(request('OPTIONS', '/', 'fd99::5')), 'probe')
  t.equal(match(request('OPTIONS', '/', '::2')), undefined)
  t.equal(match(request('OPTIONS', '/', '::ffff:127.0.0.2')), 'probe', 'a dual-stack socket reports IPv4 peers mapped')
  t.equal(match(request('OPTIONS', '/', '::ffff:127.0.0.1')), undefined)
  t.equal(match(request('GET', '/livez', '127.0.0.1')), undefined, 'liveness obeys allow too')
  t.equal(match({ method: 'OPTIONS', url: '/', headers: {}, socket: null }), undefined, 'a request whose socket is gone')
  t.throws(() => allowList(['localhost']), /not an IP address/)
  t.throws(() => allowList(['10.0.0.0/33']), /prefix length/)
  t.throws(() => allowList(['10.0.0.0/']), /prefix length/)
})
