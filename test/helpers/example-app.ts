/**
 * The example app as a child process: tools/example-app.mjs (shared with the demo and the soak).
 * Kept as the tests' import path; `waitForOutput(app, text)` is `app.waitForOutput(text)`.
 */
import type { ExampleApp } from '../../tools/example-app.mjs'

export { EXAMPLE_APP_SERVER, startExampleApp } from '../../tools/example-app.mjs'
export type { ExampleApp, ExampleAppExit, ExampleAppReady, StartExampleAppOptions } from '../../tools/example-app.mjs'

/** Awaits the app's stdout line that contains `text` (for log-driven synchronisation). */
export async function waitForOutput (app: ExampleApp, text: string, timeoutMs = 10000): Promise<void> {
  await app.waitForOutput(text, timeoutMs)
}

/** One sample of the example app's dashboard stream (example-app/dashboard.mjs). */
export interface Sample {
  t: number
  kind: 'busy' | 'free' | 'tick'
  busy: boolean
  queued: number
  /** The highest queue depth since the previous sample. */
  queuedPeak: number
  running: number
  idleThreads: number
  threads: number
  completed: number
  failed: number
  transitions: { busy: number, free: number }
  /** Failed tasks by reason, from `app.pool.stats()` (queueFull = refused: queue full, closing or down). */
  failures: { timedOut: number, queueFull: number, crashed: number, shed: number, aborted: number, errored: number }
  probe: 'free' | 'busy' | 'draining' | 'down'
}

/** Reads the dashboard's Server-Sent Events; `waitFor` resolves with the first sample matching. */
export async function watchSamples (url: string, signal: AbortSignal): Promise<{ waitFor: (match: (sample: Sample) => boolean) => Promise<Sample>, ended: () => Promise<void> }> {
  const response = await fetch(`${url}/dashboard/events`, { signal })
  if (response.status !== 200 || response.body === null) throw new Error(`events: status ${response.status}`)
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  async function nextFrame (): Promise<{ event: string, data: string } | null> {
    for (;;) {
      const end = buffer.indexOf('\n\n')
      if (end !== -1) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.*)$/m.exec(frame)?.[1] ?? 'message'
        const data = /^data: (.*)$/m.exec(frame)?.[1] ?? ''
        return { event, data }
      }
      const { done, value } = await reader.read()
      if (done) return null
      buffer += value
    }
  }
  async function waitFor (match: (sample: Sample) => boolean): Promise<Sample> {
    for (let frame = await nextFrame(); frame !== null; frame = await nextFrame()) {
      const found = frame.event === 'history'
        ? (JSON.parse(frame.data) as { samples: Sample[] }).samples.find(match)
        : frame.event === 'sample' ? [JSON.parse(frame.data) as Sample].find(match) : undefined
      if (found !== undefined) return found
    }
    throw new Error('event stream ended before the awaited sample')
  }
  async function ended (): Promise<void> {
    while (await nextFrame() !== null);
  }
  return { waitFor, ended }
}
