// The example app's /dashboard in a real headless Chromium, with a real HAProxy checking the app
// (recipe "agent", `http-check send-state`): saturate the pool and watch the page say "busy" with a
// non-zero queue, drawn from the live Server-Sent Events stream, and show HAProxy's view of the
// server. Saves a screenshot to test-artifacts/dashboard.png (gitignored).
import t from 'tap'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { launchChromium } from '../helpers/browser.js'
import { startCluster } from '../helpers/haproxy.js'
import { CHROMIUM, HAPROXY, haproxyPath, skipUnlessInstalled } from '../helpers/system.js'

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

/** Sends `count` blocking requests at once; resolves with their statuses. Bounded in count and time. */
async function blockWave (url: string, count: number, ms: number): Promise<number[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const response = await fetch(`${url}/block?ms=${ms}`, { signal: AbortSignal.timeout(30000) })
    await response.arrayBuffer()
    return response.status
  }))
}

const needs = { skip: skipUnlessInstalled(CHROMIUM).skip ?? skipUnlessInstalled(HAPROXY).skip }

t.test('the dashboard shows the pool busy, with its queue, and HAProxy\'s view, live', needs, async (t) => {
  const cluster = await startCluster(t, haproxyPath(), {
    instances: 1,
    recipe: 'agent',
    inter: 250,
    agentInter: 250,
    env: { POOL_MAX_THREADS: '2', TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '250' }
  })
  const app = cluster.instances[0]!.app
  const chrome = await launchChromium()
  t.teardown(() => chrome.close())

  const page = await chrome.browser.newPage({ viewport: { width: 1200, height: 720 } })
  const pageErrors: string[] = []
  const foreignRequests: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()) })
  page.on('request', (request) => { if (!request.url().startsWith(`${app.url}/`)) foreignRequests.push(request.url()) })

  await page.goto(`${app.url}/dashboard`)
  await page.waitForSelector('#connection.live', { timeout: 15000 })
  await page.waitForSelector('body[data-state="free"]', { timeout: 15000 })
  t.equal(await page.textContent('#queued'), '0', 'an idle pool shows an empty queue')
  // HAProxy's checks carry X-Haproxy-Server-State; the httpchk plugin keeps the last one per node.
  const haproxyRow = page.locator('#haproxy tr', { hasText: 'be_app/app1' })
  await haproxyRow.waitFor({ timeout: 15000 })
  t.same((await haproxyRow.locator('td').allTextContents()).slice(0, 3), ['lb1', 'be_app/app1', 'UP'], 'HAProxy node lb1 sees be_app/app1 UP')

  // A first short wave, so the chart has a busy period behind the one we assert on.
  t.same(await blockWave(app.url, 6, 400), Array(6).fill(200))
  await page.waitForFunction("document.getElementById('to-free').textContent === '1'", undefined, { timeout: 15000 })

  // Second wave: 12 tasks of 700 ms on 2 threads. Wait until the page shows it busy with work
  // still queued after 4 of them completed, so the chart shows the queue draining.
  const wave = blockWave(app.url, 12, 700)
  // (A string: the test is type-checked without the DOM lib.)
  const seen = await page.waitForFunction(`(() => {
    const text = (id) => document.getElementById(id).textContent
    const shown = { state: text('state'), queued: Number(text('queued')), completed: Number(text('completed')) }
    return shown.state === 'busy' && shown.queued > 0 && shown.completed >= 6 + 4 ? shown : false
  })()`, undefined, { timeout: 20000, polling: 50 })
  const shown = await seen.jsonValue() as { state: string, queued: number }
  t.equal(shown.state, 'busy', 'the page says busy')
  t.ok(shown.queued > 0, `the page shows a non-zero queue (${shown.queued})`)
  t.equal(await page.getAttribute('#state', 'class'), 'busy', 'the badge is styled busy')
  t.ok(await page.locator('#chart svg path').count() >= 3, 'the chart is drawn (queue area, queue line, running line)')
  t.ok(await page.locator('#chart svg rect[fill^="rgba(214"]').count() >= 2, 'both busy periods are shaded')

  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true })

  t.same(await wave, Array(12).fill(200), 'every request of the wave succeeded')
  await page.waitForSelector('body[data-state="free"]', { timeout: 15000 })
  t.equal(await page.textContent('#queued'), '0', 'the page returns to free with an empty queue')
  t.same(pageErrors, [], 'no script errors on the page')
  t.same(foreignRequests, [], 'the page loads nothing from outside the app (works offline)')
})
