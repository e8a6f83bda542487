// Types for tools/system.mjs (plain ESM, no build step), used by the TypeScript tests.
export interface SystemProgram {
  /** Executable name. */
  readonly program: string
  /** Debian package that provides it. */
  readonly debianPackage: string
  /** Environment variable that may point at the executable. */
  readonly envVar: string
}

export declare const HAPROXY: SystemProgram
export declare const CHROMIUM: SystemProgram
export declare const CADDY: SystemProgram
export declare const NGINX: SystemProgram
export declare const APACHE: SystemProgram
export declare const VARNISH: SystemProgram
export declare const REQUIRED: readonly SystemProgram[]
/** The first executable candidate: `$<envVar>`, then `$PATH`, then /usr/sbin, /usr/bin, /usr/local/sbin. */
export declare function findProgram (system: SystemProgram, env?: NodeJS.ProcessEnv): string | undefined
export declare function missingMessage (system: SystemProgram): string
/** Throws `missingMessage()` when missing. */
export declare function programPath (system: SystemProgram, env?: NodeJS.ProcessEnv): string
export declare function haproxyPath (env?: NodeJS.ProcessEnv): string
export declare function chromiumPath (env?: NodeJS.ProcessEnv): string
export declare function isCi (env?: NodeJS.ProcessEnv): boolean
export declare function skipUnlessInstalled (system: SystemProgram, env?: NodeJS.ProcessEnv): { skip?: string }
