/**
 * Puts a set of metrics into a prom-client registry all or none, and takes exactly those out again.
 * Used by every metrics builder (lib/metrics/executor-metrics.ts, lib/metrics/readiness-metrics.ts).
 *
 * Do not break: every name is checked before any is registered, so a clash
 * (`MetricAlreadyRegisteredError`) leaves the registry as it was; `remove()` removes a name only
 * while it still holds our metric, so a shared registry keeps everything else and a new app can
 * register the same names in the same process.
 */
import type { Metric, Registry } from 'prom-client'
import { MetricAlreadyRegisteredError } from '../errors.js'

export interface Registration {
  /** The names registered, in the order given. */
  readonly names: readonly string[]
  /** Removes what is still ours from the registry; calling it again does nothing more. */
  remove: () => void
}

export function register (registry: Registry, metrics: readonly Metric[]): Registration {
  // prom-client's typings give `name` to what `getMetricsAsArray()` returns (these very objects),
  // not to the classes.
  const names = metrics.map((metric) => (metric as unknown as { name: string }).name)
  for (const name of names) {
    if (registry.getSingleMetric(name) !== undefined) throw new MetricAlreadyRegisteredError(name)
  }
  for (const metric of metrics) registry.registerMetric(metric)
  return {
    names,
    remove () {
      for (const [index, name] of names.entries()) {
        if (registry.getSingleMetric(name) === metrics[index]) registry.removeSingleMetric(name)
      }
    }
  }
}
