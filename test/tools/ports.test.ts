// tools/ports.mjs: a free loopback port, picked below the OS's ephemeral range where there is one
// (so no `listen(0)` or outgoing connection elsewhere on the machine can take it before it is bound).
import { once } from 'node:events'
import { createServer } from 'node:net'
import t, { type Test } from 'tap'
import { ephemeralLow, freePort, freePortRange } from '../../tools/ports.mjs'

/** Listens on `port` until the test ends; resolves with the port bound. */
async function hold (t: Test, port: number): Promise<number> {
  const server = createServer()
  t.teardown(() => { server.close() })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

t.test('freePort returns a bindable loopback port, below the ephemeral range where there is one', async (t) => {
  const port = await freePort()
  const low = ephemeralLow()
  if (low === null) t.ok(port > 0 && port < 65536, `port ${port} (no ephemeral range to read here)`)
  else t.ok(port >= 10000 && port < low, `port ${port} in [10000, ${low})`)
  t.equal(await hold(t, port), port)
})

t.test('a range of one free port gives that port; a taken one falls back to a port the OS picks', async (t) => {
  const free = await freePort()
  t.equal(await freePort('127.0.0.1', { range: [free, free + 1] }), free)
  const taken = await hold(t, free)
  const fallback = await freePort('127.0.0.1', { range: [taken, taken + 1] })
  t.not(fallback, taken)
  const low = ephemeralLow()
  if (low !== null) t.ok(fallback >= low, `the OS picked ${fallback}, in its ephemeral range`)
  t.equal(await hold(t, fallback), fallback)
})

t.test('range null: the OS picks', async (t) => {
  const port = await freePort('127.0.0.1', { range: null })
  t.equal(await hold(t, port), port)
})

t.test('freePortRange returns the first of consecutive free ports', async (t) => {
  const base = await freePortRange(3)
  for (let port = base; port < base + 3; port++) t.equal(await hold(t, port), port)
})
