// tools/fault-proxy.mjs without HAProxy: forwards, delays on demand, closes; the e2e harness test
// (test/e2e/harness.test.ts) drives it against real backends too.
import { once } from 'node:events'
import { createServer } from 'node:http'
import t from 'tap'
import { startFaultProxy } from '../../tools/fault-proxy.mjs'

t.test('forwards, holds chunks while a delay is set, and closes twice safely', async (t) => {
  const backend = createServer((_req, res) => { res.end('ok') })
  backend.listen(0, '127.0.0.1')
  await once(backend, 'listening')
  t.teardown(() => { backend.closeAllConnections(); backend.close() })
  const proxy = await startFaultProxy(undefined, { port: (backend.address() as { port: number }).port, delayMs: 0 })
  t.teardown(proxy.close)
  t.equal(await (await fetch(proxy.url)).text(), 'ok')
  t.equal(proxy.delayedChunks, 0, 'no delay, nothing held')
  proxy.setDelay(20)
  t.equal(await (await fetch(proxy.url)).text(), 'ok', 'still forwarded while delayed')
  t.ok(proxy.delayedChunks >= 2, `request and answer held (${proxy.delayedChunks} chunks)`)
  t.ok(proxy.connections >= 1)
  t.throws(() => { proxy.setDelay(Number.NaN) }, RangeError)
  await proxy.close()
  await proxy.close()
  await t.rejects(fetch(proxy.url))
})
