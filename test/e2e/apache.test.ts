// Apache httpd 2.4 (Debian's apache2: mod_proxy_balancer, mod_proxy_hcheck, mod_lbmethod_byrequests)
// in front of two example-app processes, running the httpd.conf of docs/balancers.md as written
// (ports and paths moved). Its health check is `hcmethod=OPTIONS`, which sends `OPTIONS * HTTP/1.0`:
// the probe answers it as `OPTIONS /`. A saturated process goes out (HcFl in the balancer-manager)
// and comes back once free; a rolling restart (drain grace ≥ hcinterval × (hcfails + 1)) loses no
// request. Under CI=true a missing apache2 fails the file.
import t from 'tap'
import { APACHE, programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { rollingRestartScenario, saturationScenario } from '../helpers/balancers.js'

// A queue that holds what arrives before the next check sees the process busy (Apache does not
// retry a 503), and the documented grace.
const ENV = { POOL_MAX_THREADS: '2', POOL_MAX_QUEUE: '64', TASK_TIMEOUT_MS: '30000', DRAIN_GRACE_MS: '3000' }
// The process left serving must never be busy itself, or the check takes it out too and the
// balancer answers 503 to everyone until the next check. Saturated: the load asks for the app's index, which needs no worker thread. Restarting: pool
// work, at most as many requests in flight as one process has threads.
const SATURATION_LOAD = { path: '/', ratePerS: 20, maxInFlight: 8 }
const RESTART_LOAD = { ratePerS: 40, maxInFlight: 2 }

t.test('Apache: a saturated process goes out (OPTIONS * check), the other serves, no client error; it comes back once free', skipUnlessInstalled(APACHE), async (t) => {
  await saturationScenario(t, { kind: 'apache', binary: programPath(APACHE), env: ENV, load: SATURATION_LOAD, tasks: 3, blockMs: 6000 })
})

t.test('Apache: a rolling restart loses no request', skipUnlessInstalled(APACHE), async (t) => {
  await rollingRestartScenario(t, { kind: 'apache', binary: programPath(APACHE), env: ENV, load: RESTART_LOAD })
})
