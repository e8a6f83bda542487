// Types for tools/prometheus-text.mjs.
/** The sum of every series of `name` in a Prometheus text exposition, or undefined when there is none. */
export declare function metricValue (text: string, name: string): number | undefined
