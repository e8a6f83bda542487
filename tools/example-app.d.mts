// Types for tools/example-app.mjs.
import type { ChildProcess } from 'node:child_process'
import type { ChildExit, StopOptions } from './child.mjs'

export declare const EXAMPLE_APP_SERVER: string
export declare const READY_PREFIX: string

/** The app's `BACKPRESSURE_READY {json}` line. */
export interface ExampleAppReady {
  url: string
  port: number
  agentPort: number | null
  pid: number
}

export type ExampleAppExit = ChildExit

export interface ExampleApp extends ExampleAppReady {
  child: ChildProcess
  exited: Promise<ExampleAppExit>
  output: () => string
  stop: (options?: StopOptions) => Promise<ExampleAppExit>
  /** Resolves once the app's stdout contains `text` (a line of it). */
  waitForOutput: (text: string, timeoutMs?: number) => Promise<void>
}

export interface StartExampleAppOptions {
  /** Env on top of HOST=127.0.0.1, PORT=0, AGENT_PORT=0, LOG_LEVEL=warn (values are strings). */
  env?: Record<string, string>
  /** Node flags before the script (e.g. `--expose-gc`, `--import probe.mjs`). */
  nodeArgs?: string[]
  /**
   * Open an IPC channel.
   * @default false
   */
  ipc?: boolean
  /**
   * Kept for `output()`.
   * @default 'pipe'
   */
  stderr?: 'pipe' | 'inherit'
  /**
   * How long to wait for the READY line, in ms (generous: 2 cores shared with other test runs).
   * @default 20000
   */
  readyTimeoutMs?: number
}

export declare function startExampleApp (options?: StartExampleAppOptions): Promise<ExampleApp>
