// tools/load.mjs: open-loop load, bounded in time, count and requests in flight; every request reported.
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { openLoopLoad, type LoadResult } from '../../tools/load.mjs'
import { freePort } from '../../tools/ports.mjs'

async function startServer (t: Test, handle: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((_req, res) => { handle(res) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/x?y=1`
}

t.test('every request sent is reported once, with its status and headers', async (t) => {
  const url = await startServer(t, (res) => { res.setHeader('x-served-by', 'one'); res.end('ok') })
  const results: LoadResult[] = []
  const { sent, skipped } = await openLoopLoad({ url, ratePerS: 500, durationMs: 5000, maxRequests: 40, onResult: (result) => { results.push(result) } })
  t.equal(sent, 40, 'maxRequests bounds the count')
  t.equal(skipped, 0)
  t.equal(results.length, sent, 'one result per request')
  t.ok(results.every((result) => result.status === 200 && result.headers?.['x-served-by'] === 'one' && result.ms >= 0))
})

t.test('arrivals beyond maxInFlight are skipped, not queued', async (t) => {
  // A slow server: every answer takes longer than the whole load lasts, so the cap is full at once.
  const url = await startServer(t, (res) => { setTimeout(() => { res.end() }, 300) })
  const results: LoadResult[] = []
  const { sent, skipped } = await openLoopLoad({ url, ratePerS: 1000, durationMs: 100, maxInFlight: 3, onResult: (result) => { results.push(result) } })
  t.equal(sent, 3, 'never more than maxInFlight outstanding')
  t.ok(skipped > 0, `arrivals over the cap are counted as skipped (${skipped})`)
  t.same(results.map((result) => result.status), [200, 200, 200], 'the answers are awaited')
})

t.test('the signal stops sending', async (t) => {
  const url = await startServer(t, (res) => { res.end() })
  const stop = new AbortController()
  stop.abort()
  const { sent, skipped } = await openLoopLoad({ url, ratePerS: 1000, durationMs: 10000, signal: stop.signal })
  t.same({ sent, skipped }, { sent: 0, skipped: 0 })
})

t.test('a refused connection is reported as an error, not lost', async (t) => {
  const url = `http://127.0.0.1:${await freePort()}/`
  const results: LoadResult[] = []
  const { sent } = await openLoopLoad({ url, ratePerS: 200, durationMs: 5000, maxRequests: 3, onResult: (result) => { results.push(result) } })
  t.equal(results.length, sent)
  t.ok(results.every((result) => result.status === undefined && /ECONNREFUSED/.test(result.error ?? '')), JSON.stringify(results))
})
