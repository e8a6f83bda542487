// register(): all or none into a real prom-client registry, and remove() takes out only what is
// still ours.
import t from 'tap'
import { Counter, Gauge, Registry } from 'prom-client'
import { register } from '../../../lib/metrics/registration.js'

t.test('registers every metric, in order, and remove() takes them out again', async (t) => {
  const registry = new Registry()
  const theirs = new Counter({ name: 'theirs_total', help: 'someone else\'s', registers: [registry] })
  const registration = register(registry, [new Gauge({ name: 'a', help: 'a', registers: [] }), new Gauge({ name: 'b', help: 'b', registers: [] })])
  t.same(registration.names, ['a', 'b'])
  t.same(registry.getMetricsAsArray().map((metric) => metric.name), ['theirs_total', 'a', 'b'])
  registration.remove()
  registration.remove()
  t.same(registry.getMetricsAsArray().map((metric) => metric.name), ['theirs_total'], 'only ours went')
  t.equal(registry.getSingleMetric('theirs_total'), theirs)
})

t.test('a name taken registers nothing: FST_BACKPRESSURE_METRIC_ALREADY_REGISTERED', async (t) => {
  const registry = new Registry()
  new Gauge({ name: 'b', help: 'taken', registers: [registry] }) // eslint-disable-line no-new
  t.throws(() => register(registry, [new Gauge({ name: 'a', help: 'a', registers: [] }), new Gauge({ name: 'b', help: 'b', registers: [] })]), {
    code: 'FST_BACKPRESSURE_METRIC_ALREADY_REGISTERED',
    message: /^A metric named "b" is already registered/
  })
  t.same(registry.getMetricsAsArray().map((metric) => metric.name), ['b'], '"a" was not registered either')
})

t.test('remove() leaves a metric that replaced ours under the same name', async (t) => {
  const registry = new Registry()
  const registration = register(registry, [new Gauge({ name: 'a', help: 'ours', registers: [] })])
  registry.removeSingleMetric('a')
  const replacement = new Gauge({ name: 'a', help: 'theirs', registers: [registry] })
  registration.remove()
  t.equal(registry.getSingleMetric('a'), replacement)
})
