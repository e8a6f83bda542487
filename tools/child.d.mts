// Types for tools/child.mjs.
import type { ChildProcess } from 'node:child_process'

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface StopOptions {
  /**
   * Each signal is sent at most once.
   * @default SIGTERM
   */
  signal?: NodeJS.Signals
  /**
   * SIGKILL by PID if the child is still there after this many ms.
   * @default 15000
   */
  killAfterMs?: number
}

export interface StartChildOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /**
   * Open an IPC channel (the child is a Node program).
   * @default false
   */
  ipc?: boolean
  /**
   * Kept, capped at 256 KiB, for `output()` and `waitForLine()`.
   * @default 'pipe'
   */
  stdout?: 'pipe' | 'inherit' | 'ignore'
  stderr?: 'pipe' | 'inherit' | 'ignore'
}

export interface ManagedChild {
  readonly child: ChildProcess
  readonly pid: number | undefined
  readonly running: boolean
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ChildExit>
  /** What the child wrote so far (stdout, then stderr), each capped. */
  output: () => string
  /** Signals the PID and awaits the exit; SIGKILL after `killAfterMs`. Safe to call twice. */
  stop: (options?: StopOptions) => Promise<ChildExit>
  /** The first stdout line `match` accepts; rejects with the output if the child exits or the time runs out. */
  waitForLine: (match: (line: string) => boolean, options?: { timeoutMs?: number }) => Promise<string>
}

/** The parent's env minus NODE_OPTIONS and NODE_V8_COVERAGE, plus `overrides`. */
/** How long `waitForLine` waits by default before it calls the child hung (ms). */
export declare const WAIT_FOR_LINE_MS: number
export declare function nodeEnv (overrides?: Record<string, string>): NodeJS.ProcessEnv
export declare function startChild (command: string, args: string[], options?: StartChildOptions): ManagedChild
export declare function stopAll (options?: { killAfterMs?: number }): Promise<void>
export declare function stopAllOnSignals (): void
