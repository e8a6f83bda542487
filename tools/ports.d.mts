// Types for tools/ports.mjs.
/** The low end of the OS's ephemeral port range, or null where it cannot be read (not Linux). */
export declare function ephemeralLow (): number | null
export interface FreePortOptions {
  /**
   * [first, end) to pick a port from at random; null: the OS picks one (listen on port 0).
   * @default [10000, ephemeralLow()], or null where that cannot be read
   */
  range?: [number, number] | null
}
/** A TCP port that was free on `host` (default 127.0.0.1) a moment ago, below the OS's ephemeral range where there is one. */
export declare function freePort (host?: string, options?: FreePortOptions): Promise<number>
/** The first of `count` consecutive TCP ports that were all free on `host` (default 127.0.0.1) a moment ago. */
export declare function freePortRange (count: number, host?: string): Promise<number>
