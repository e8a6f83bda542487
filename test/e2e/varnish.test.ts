// Varnish (Debian's varnish 7.1) in front of two example-app processes, running the default.vcl of
// docs/balancers.md as written (ports moved; the listen address is varnishd's -a). Its probe sends
// `OPTIONS / HTTP/1.1` with Host and `Connection: close` (Varnish reads until the close). A
// saturated process goes sick, the round-robin director skips it, and it comes back once free; a
// rolling restart (drain grace ≥ .interval × (.threshold + 1)) loses no request. Under CI=true a
// missing varnishd fails the file.
import t from 'tap'
import { VARNISH, programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { ACTIVE_CHECKER_SETUP, rollingRestartScenario, saturationScenario } from '../helpers/balancers.js'

const { env: ENV, saturationLoad: SATURATION_LOAD, restartLoad: RESTART_LOAD } = ACTIVE_CHECKER_SETUP

t.test('Varnish: a saturated process goes sick, the other serves, no client error; it comes back once free', skipUnlessInstalled(VARNISH), async (t) => {
  await saturationScenario(t, { kind: 'varnish', binary: programPath(VARNISH), env: ENV, load: SATURATION_LOAD, tasks: 3, blockMs: 6000 })
})

t.test('Varnish: a rolling restart loses no request', skipUnlessInstalled(VARNISH), async (t) => {
  await rollingRestartScenario(t, { kind: 'varnish', binary: programPath(VARNISH), env: ENV, load: RESTART_LOAD })
})
