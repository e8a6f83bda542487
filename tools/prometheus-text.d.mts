// Types for tools/prometheus-text.mjs.
/** Every sample of a text exposition as `name{labels}` → value (comments and blank lines skipped). */
export declare function parseMetrics (text: string): Map<string, number>
/** The sum of every series of `name` in a Prometheus text exposition, or undefined when there is none. */
export declare function metricValue (text: string, name: string): number | undefined
/** Scrapes `url` every `intervalMs` (default 50) until `stop()`; resolves with the lowest (Infinity if never seen) and highest (0 if never seen) value of each metric. */
export declare function watchRange (url: string, names: string[], options?: { intervalMs?: number }): { stop: () => Promise<{ min: Record<string, number>, max: Record<string, number> }> }
/** Scrapes `url` every `intervalMs` (default 50) until `stop()`; resolves with the highest value of each metric seen. */
export declare function watchMax (url: string, names: string[], options?: { intervalMs?: number }): { stop: () => Promise<Record<string, number>> }
