// Varnish (Debian's varnish 7.1) in front of two example-app processes, running the default.vcl of
// docs/balancers.md as written (ports moved; the listen address is varnishd's -a). Its probe sends
// `OPTIONS / HTTP/1.1` with Host and `Connection: close` (Varnish reads until the close). A
// saturated process goes sick, the round-robin director skips it, and it comes back once free; a
// rolling restart (drain grace ≥ .interval × (.threshold + 1)) loses no request. Under CI=true a
// missing varnishd fails the file.
import t from 'tap'
import { VARNISH, programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { rollingRestartScenario, saturationScenario } from '../helpers/balancers.js'

// A queue that holds what arrives before the next probe sees the process busy (Varnish does not
// retry a 503), and the documented grace.
const ENV = { POOL_MAX_THREADS: '2', POOL_MAX_QUEUE: '64', TASK_TIMEOUT_MS: '30000', DRAIN_GRACE_MS: '3000' }
// The process left serving must never be busy itself, or the check takes it out too and the
// balancer answers 503 to everyone until the next check. Saturated: the load asks for the app's index, which needs no worker thread. Restarting: pool
// work, at most as many requests in flight as one process has threads.
const SATURATION_LOAD = { path: '/', ratePerS: 20, maxInFlight: 8 }
const RESTART_LOAD = { ratePerS: 40, maxInFlight: 2 }

t.test('Varnish: a saturated process goes sick, the other serves, no client error; it comes back once free', skipUnlessInstalled(VARNISH), async (t) => {
  await saturationScenario(t, { kind: 'varnish', binary: programPath(VARNISH), env: ENV, load: SATURATION_LOAD, tasks: 3, blockMs: 6000 })
})

t.test('Varnish: a rolling restart loses no request', skipUnlessInstalled(VARNISH), async (t) => {
  await rollingRestartScenario(t, { kind: 'varnish', binary: programPath(VARNISH), env: ENV, load: RESTART_LOAD })
})
