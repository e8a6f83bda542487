// Apache httpd 2.4 (Debian's apache2: mod_proxy_balancer, mod_proxy_hcheck, mod_lbmethod_byrequests)
// in front of two example-app processes, running the httpd.conf of docs/balancers.md as written
// (ports and paths moved). Its health check is `hcmethod=OPTIONS`, which sends `OPTIONS * HTTP/1.0`:
// the probe answers it as `OPTIONS /`. A saturated process goes out (HcFl in the balancer-manager)
// and comes back once free; a rolling restart (drain grace ≥ hcinterval × (hcfails + 1)) loses no
// request. Under CI=true a missing apache2 fails the file.
import t from 'tap'
import { APACHE, programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { ACTIVE_CHECKER_SETUP, rollingRestartScenario, saturationScenario } from '../helpers/balancers.js'

const { env: ENV, saturationLoad: SATURATION_LOAD, restartLoad: RESTART_LOAD } = ACTIVE_CHECKER_SETUP

t.test('Apache: a saturated process goes out (OPTIONS * check), the other serves, no client error; it comes back once free', skipUnlessInstalled(APACHE), async (t) => {
  await saturationScenario(t, { kind: 'apache', binary: programPath(APACHE), env: ENV, load: SATURATION_LOAD, tasks: 3, blockMs: 6000 })
})

t.test('Apache: a rolling restart loses no request', skipUnlessInstalled(APACHE), async (t) => {
  await rollingRestartScenario(t, { kind: 'apache', binary: programPath(APACHE), env: ENV, load: RESTART_LOAD })
})
