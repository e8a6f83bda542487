/**
 * A real headless Chromium (Debian's, found through tools/system.mjs) driven by playwright-core.
 *
 *   const chrome = await launchChromium()
 *   t.teardown(() => chrome.close())      // closes the browser, then its process by PID
 *   const page = await chrome.browser.newPage()
 *
 * Launched through `launchServer` so that the test owns the browser's PID; Playwright gives each
 * launch a fresh temporary user-data dir and removes it when the browser closes.
 */
import { chromium, type Browser } from 'playwright-core'
import { once } from 'node:events'
import { chromiumPath } from '../../tools/system.mjs'

/** Flags for a quiet, offline, CI-safe headless Chromium (no sandbox: containers often lack the namespaces). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

export interface HeadlessChromium {
  browser: Browser
  pid: number
  /** Closes the browser; if its process is still there after `killAfterMs`, kills it by PID. */
  close: (killAfterMs?: number) => Promise<void>
}

export async function launchChromium ({ timeoutMs = 60000 }: { timeoutMs?: number } = {}): Promise<HeadlessChromium> {
  const server = await chromium.launchServer({ executablePath: chromiumPath(), headless: true, args: [...CHROMIUM_ARGS], timeout: timeoutMs })
  const child = server.process()
  const pid = child.pid
  if (pid === undefined) {
    await server.kill()
    throw new Error('chromium started without a PID')
  }
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit').then(() => {})

  async function close (killAfterMs = 10000): Promise<void> {
    const timer = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) process.kill(pid as number, 'SIGKILL') }, killAfterMs)
    try {
      await browser.close().catch(() => {})
      await server.close()
      await exited
    } finally {
      clearTimeout(timer)
    }
  }

  let browser: Browser
  try {
    browser = await chromium.connect(server.wsEndpoint(), { timeout: timeoutMs })
  } catch (error) {
    await server.kill()
    throw error
  }
  return { browser, pid, close }
}
