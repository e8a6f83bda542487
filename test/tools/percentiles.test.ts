// tools/percentiles.mjs: percentiles on perf_hooks.createHistogram(), read back in ms.
import t from 'tap'
import { Latencies, median } from '../../tools/percentiles.mjs'

t.test('an empty recorder has no percentiles', async (t) => {
  const latencies = new Latencies()
  t.equal(latencies.count, 0)
  t.equal(latencies.percentile(99), null)
  t.same(latencies.summary(), { samples: 0, p50: null, p90: null, p99: null, max: null, mean: null })
})

t.test('1..1000 ms: percentiles within the histogram\'s 3 significant figures', async (t) => {
  const latencies = new Latencies()
  for (let ms = 1; ms <= 1000; ms++) latencies.record(ms)
  const { samples, p50, p90, p99, max, mean } = latencies.summary()
  t.equal(samples, 1000)
  const near = (value: number | null, expected: number): boolean => value !== null && Math.abs(value - expected) <= expected * 0.002
  t.ok(near(p50, 500), `p50 ${p50}`)
  t.ok(near(p90, 900), `p90 ${p90}`)
  t.ok(near(p99, 990), `p99 ${p99}`)
  t.ok(near(max, 1000), `max ${max}`)
  t.ok(near(mean, 500.5), `mean ${mean}`)
})

t.test('sub-millisecond values keep microseconds; resolutionMs keeps nanoseconds', async (t) => {
  const micro = new Latencies()
  micro.record(0.25)
  micro.record(0)
  t.equal(micro.percentile(100), 0.25, '250 µs read back as 0.25 ms')
  t.equal(micro.percentile(1), 0.001, 'zero is kept as the smallest step (the histogram needs >= 1)')
  const nano = new Latencies({ resolutionMs: 1e-6 })
  nano.record(0.0012)
  t.ok(Math.abs((nano.percentile(50) ?? 0) - 0.0012) < 1e-8, `1.2 µs kept (${nano.percentile(50)} ms)`)
})

t.test('median: the middle value, or the mean of the middle two; non-finite values are left out', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.equal(median([5, Number.NaN, Number.POSITIVE_INFINITY]), 5)
  t.equal(median([]), null)
})
