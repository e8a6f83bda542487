// Open-loop load for the soak and the demo: requests arrive at a fixed rate whatever the answers
// take, as real users do (a closed loop would slow down with the server and hide its queue), with
// at most `maxInFlight` outstanding so the load stays bounded, and bounded in time and count.
// Keep-alive connections (node:http Agent): hundreds of requests per second without a socket each.
// (The e2e tests' closed-loop load through HAProxy is test/helpers/haproxy.ts `runLoad`.)
import { Agent, request } from 'node:http'

const TICK_MS = 10

/**
 * @param {{ url: string, ratePerS: number, durationMs: number, maxInFlight?: number, maxRequests?: number,
 *   requestTimeoutMs?: number, signal?: AbortSignal,
 *   onResult?: (result: { status?: number, error?: string, ms: number, headers?: import('node:http').IncomingHttpHeaders }) => void }} options
 */
export async function openLoopLoad ({ url, ratePerS, durationMs, maxInFlight = 1000, maxRequests = Infinity, requestTimeoutMs = 10_000, signal, onResult = () => {} }) {
  const target = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight })
  let sent = 0
  let skipped = 0
  let inFlight = 0
  const pending = new Set()

  const one = () => new Promise((resolve) => {
    const started = performance.now()
    sent++
    inFlight++
    const done = (result) => {
      inFlight--
      onResult({ ...result, ms: performance.now() - started })
      resolve()
    }
    const req = request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, agent, timeout: requestTimeoutMs }, (res) => {
      res.resume()
      res.once('end', () => { done({ status: res.statusCode, headers: res.headers }) })
      res.once('error', (error) => { done({ error: error.message }) })
    })
    req.once('timeout', () => { req.destroy(new Error('timeout')) })
    req.once('error', (error) => { done({ error: error.message }) })
    req.end()
  })

  const started = performance.now()
  const deadline = started + durationMs
  await new Promise((resolve) => {
    // Every tick, send what the rate owes since the start; what the in-flight cap refuses is skipped.
    const ticker = setInterval(() => {
      const now = performance.now()
      if (now >= deadline || sent >= maxRequests || signal?.aborted === true) {
        clearInterval(ticker)
        resolve()
        return
      }
      const owed = Math.min(Math.floor(((now - started) / 1000) * ratePerS) - sent - skipped, maxRequests - sent)
      for (let i = 0; i < owed; i++) {
        if (inFlight >= maxInFlight) {
          skipped++
        } else {
          const answer = one()
          pending.add(answer)
          void answer.then(() => { pending.delete(answer) })
        }
      }
    }, TICK_MS)
  })
  await Promise.all(pending)
  agent.destroy()
  return { sent, skipped, elapsedMs: performance.now() - started }
}
