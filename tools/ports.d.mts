// Types for tools/ports.mjs.
/** A TCP port that was free on `host` (default 127.0.0.1) a moment ago. */
export declare function freePort (host?: string): Promise<number>
/** The first of `count` consecutive TCP ports that were all free on `host` (default 127.0.0.1) a moment ago. */
export declare function freePortRange (count: number, host?: string): Promise<number>
