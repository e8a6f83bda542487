// Types for scripts/test.mjs (plain ESM, no build step), used by test/docs/tiers.test.ts.
export interface Tier {
  /** Which program runs the tier: tap, or tsc (type tests, never run). */
  run: 'tap' | 'tsc'
  /** Folders (and top-level files) of test/, relative to the repository. */
  paths: string[]
  /** Added to the environment when the tier runs alone. */
  env?: Record<string, string>
  /** tap's options when the tier runs alone. */
  options?: string[]
}
export declare const TIERS: Record<string, Tier>
export declare const SUPPORT: string[]
