// nginx (open source, Debian's package) in front of two example-app processes, running the
// nginx.conf of docs/balancers.md as written (ports and paths moved). nginx has no active checks:
// a saturated process sheds with 503 and nginx retries the request on the other (proxy_next_upstream
// http_503); a restarting process refuses connections and nginx retries those (error). No client
// sees an error in either. Under CI=true a missing nginx fails the file.
import t from 'tap'
import { NGINX, programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { rollingRestartScenario, saturationScenario } from '../helpers/balancers.js'

// Two threads and a queue of two (docs/balancers.md: a short queue behind nginx): 2 running and 2
// queued fill it, and the next request is shed at once. At most 4 client requests in flight, so
// one process alone never sheds (2 running + 2 queued).
const ENV = { POOL_MAX_THREADS: '2', POOL_MAX_QUEUE: '2', TASK_TIMEOUT_MS: '20000' }
const LOAD = { ratePerS: 40, maxInFlight: 4 }

t.test('nginx: a saturated process sheds, nginx retries on the other, no client error; it serves again once free', skipUnlessInstalled(NGINX), async (t) => {
  await saturationScenario(t, { kind: 'nginx', binary: programPath(NGINX), env: ENV, load: LOAD, tasks: 4, blockMs: 4000 })
})

t.test('nginx: a rolling restart loses no request', skipUnlessInstalled(NGINX), async (t) => {
  await rollingRestartScenario(t, { kind: 'nginx', binary: programPath(NGINX), env: ENV, load: LOAD })
})
