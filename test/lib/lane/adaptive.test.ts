import t from 'tap'
import { AdaptiveLimit } from '../../../lib/lane/adaptive.js'

/** Feeds `windows` windows of 10 calls of `rttMs` each, with `inFlight` running; returns the limits seen. */
function feed (limit: AdaptiveLimit, rttMs: number, windows: number, inFlight = 1000): number[] {
  const seen: number[] = []
  for (let w = 0; w < windows; w++) {
    for (let i = 0; i < 10; i++) limit.sample(rttMs, inFlight, false)
    seen.push(limit.limit)
  }
  return seen
}

t.test('starts at initial, or at 10 clamped to [min, max]', async (t) => {
  t.equal(new AdaptiveLimit({ min: 1, max: 100, initial: 7 }).limit, 7)
  t.equal(new AdaptiveLimit({ min: 1, max: 100 }).limit, 10)
  t.equal(new AdaptiveLimit({ min: 1, max: 4 }).limit, 4)
  t.equal(new AdaptiveLimit({ min: 20, max: 100 }).limit, 20)
})

t.test('steady latency with the slots in use: the limit grows, up to max', async (t) => {
  const limit = new AdaptiveLimit({ min: 1, max: 50, initial: 10 })
  const seen = feed(limit, 10, 200)
  t.ok(seen[5]! > 10, `grew (${seen[5]})`)
  t.equal(seen.at(-1), 50, 'reached max and stayed there')
})

t.test('app-limited (few calls running): the limit does not grow', async (t) => {
  const limit = new AdaptiveLimit({ min: 1, max: 50, initial: 10 })
  feed(limit, 10, 50, 2)
  t.equal(limit.limit, 10)
})

t.test('latency rising well above the baseline: the limit falls toward min; it recovers after', async (t) => {
  const limit = new AdaptiveLimit({ min: 2, max: 50, initial: 40 })
  feed(limit, 10, 5)
  const before = limit.limit
  const slow = feed(limit, 200, 60)
  t.ok(slow[0]! < before, `fell at once (${before} → ${slow[0]})`)
  t.ok(Math.min(...slow) < before / 2, `below half the limit (${before} → ${Math.min(...slow)})`)
  t.ok(slow.every((l) => l >= 2), 'never below min')
  const recovered = feed(limit, 10, 100)
  t.ok(recovered.at(-1)! > 20, `recovered once latency is back to normal (${recovered.at(-1)})`)
})

t.test('a timeout ends the window at once and shrinks the limit, with no baseline from it', async (t) => {
  const limit = new AdaptiveLimit({ min: 1, max: 100, initial: 50 })
  t.equal(limit.sample(2000, 50, true), true, 'the integer limit changed on the first timeout')
  t.equal(limit.limit, 45, '50 × (0.8 + 0.2 × 0.5)')
  t.equal(limit.sample(10, 50, false), false, 'an ordinary sample waits for a full window')
  feed(limit, 10, 3)
  t.ok(limit.limit >= 45, 'the timeout did not poison the baseline')
})
