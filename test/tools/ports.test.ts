// tools/ports.mjs: a port picked by the OS on loopback, free to bind again.
import { once } from 'node:events'
import { createServer } from 'node:net'
import t from 'tap'
import { freePort } from '../../tools/ports.mjs'

t.test('freePort returns a bindable loopback port', async (t) => {
  const port = await freePort()
  t.ok(port > 0 && port < 65536, `port ${port}`)
  const server = createServer()
  t.teardown(() => { server.close() })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.equal((server.address() as { port: number }).port, port)
})
