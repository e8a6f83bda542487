// The example app's /dashboard in a real headless Chromium, with a real HAProxy checking the app
// (recipe "agent", `http-check send-state`): saturate the pool and watch the page, drawn from the
// live Server-Sent Events stream, show the probe's readiness ("busy"), the queue's real peak between
// two samples, integer task counts on the y-axis, the failed tasks by reason, and HAProxy's view of
// the server; then check it at 390 px wide. Screenshots go to test-artifacts/ (gitignored);
// UPDATE_SCREENSHOTS=1 also writes docs/images/dashboard.png.
import t from 'tap'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CHROMIUM, HAPROXY, haproxyPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { launchChromium } from '../helpers/browser.js'
import { startCluster } from '../helpers/haproxy.js'

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/images/dashboard.png', import.meta.url))
const THREADS = 2
const MAX_QUEUE = 4

/** Sends `count` blocking requests at once; resolves with their statuses. Bounded in count and time. */
async function blockWave (url: string, count: number, ms: number): Promise<number[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const response = await fetch(`${url}/block?ms=${ms}`, { signal: AbortSignal.timeout(30000) })
    await response.arrayBuffer()
    return response.status
  }))
}

const needs = { skip: skipUnlessInstalled(CHROMIUM).skip ?? skipUnlessInstalled(HAPROXY).skip }

t.test('the dashboard shows readiness, the queue\'s peaks, failures by reason and HAProxy\'s view, live', needs, async (t) => {
  const cluster = await startCluster(t, haproxyPath(), {
    instances: 1,
    recipe: 'agent',
    inter: 250,
    agentInter: 250,
    env: { POOL_MAX_THREADS: String(THREADS), POOL_MAX_QUEUE: String(MAX_QUEUE), TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '1000' }
  })
  const app = cluster.instances[0]!.app
  const chrome = await launchChromium()
  t.teardown(() => chrome.close())

  const page = await chrome.browser.newPage({ viewport: { width: 1200, height: 900 } })
  const pageErrors: string[] = []
  const foreignRequests: string[] = []
  page.on('pageerror', (error) => { pageErrors.push(error.message) })
  page.on('console', (message) => { if (message.type() === 'error') pageErrors.push(message.text()) })
  page.on('request', (request) => { if (!request.url().startsWith(`${app.url}/`)) foreignRequests.push(request.url()) })
  // (Strings: the test is type-checked without the DOM lib.)
  const text = async (id: string): Promise<string> => (await page.textContent(`#${id}`)) ?? ''
  const reason = async (name: string): Promise<string> => (await page.textContent(`#reasons [data-reason="${name}"] span:last-child`)) ?? ''

  await page.goto(`${app.url}/dashboard`)
  await page.waitForSelector('#connection.live', { timeout: 15000 })
  await page.waitForSelector('body[data-state="free"]', { timeout: 15000 })
  t.equal(await text('state'), 'free', 'the readiness the probe answers: free')
  t.equal(await text('queued'), '0', 'an idle pool shows an empty queue')
  // HAProxy's checks carry X-Haproxy-Server-State; the httpchk plugin keeps the last one per node.
  const haproxyRow = page.locator('#haproxy tr', { hasText: 'be_app/app1' })
  await haproxyRow.waitFor({ timeout: 15000 })
  t.same((await haproxyRow.locator('td').allTextContents()).slice(0, 3), ['lb1', 'be_app/app1', 'UP'], 'HAProxy node lb1 sees be_app/app1 UP')

  // Six 1.5 s tasks on two threads: four wait. Samples come once a second and on busy/free only, so
  // the peak of 4 falls between samples; each sample carries the peak since the one before.
  t.same(await blockWave(app.url, 6, 1500), Array(6).fill(200), 'the first wave fits threads + queue')
  await page.waitForFunction("document.getElementById('to-free').textContent === '1'", undefined, { timeout: 15000 })
  t.equal(await text('peak'), String(6 - THREADS), 'the page shows the real peak: 4 tasks queued')
  const yTicks = await page.locator('#chart svg text.y-tick').allTextContents()
  t.ok(yTicks.length >= 2 && yTicks.every((tick) => /^\d+$/.test(tick)), `integer y-axis ticks (${yTicks.join(', ')})`)
  t.ok(yTicks.includes('4'), 'the y-axis reaches the peak')

  // Second wave: ten 1 s tasks, two threads, a queue of 4: the rest are refused (503, queue full).
  // Wait until the page shows the pool busy with work queued, so the chart shows the queue draining.
  const wave = blockWave(app.url, 10, 1000)
  const seen = await page.waitForFunction(`(() => {
    const text = (id) => document.getElementById(id).textContent
    const shown = { state: text('state'), queued: Number(text('queued')) }
    return shown.state === 'busy' && shown.queued > 0 ? shown : false
  })()`, undefined, { timeout: 20000, polling: 50 })
  const shown = await seen.jsonValue() as { state: string, queued: number }
  t.equal(shown.state, 'busy', 'the page says busy (the probe\'s readiness)')
  t.ok(shown.queued > 0, `the page shows a non-zero queue (${shown.queued})`)
  t.equal(await page.getAttribute('#state', 'class'), 'busy', 'the badge is styled busy')
  const statuses = await wave
  const refused = statuses.filter((status) => status === 503).length
  t.equal(refused + statuses.filter((status) => status === 200).length, 10, `every request was served or refused: ${statuses.join(' ')}`)
  t.ok(refused > 0, `the queue of ${MAX_QUEUE} refused ${refused}`)
  await page.waitForSelector('body[data-state="free"]', { timeout: 15000 })
  await page.waitForFunction(`document.querySelector('#reasons [data-reason="queueFull"] span:last-child').textContent === '${refused}'`, undefined, { timeout: 15000 })
  t.equal(await reason('queueFull'), String(refused), 'failed: queue full counts every 503')
  t.equal(await text('failed'), String(refused), 'failed in total: only those')
  t.same([await reason('timedOut'), await reason('crashed')], ['0', '0'], 'no timeouts, no crashes')
  t.equal(await text('queued'), '0', 'the page returns to free with an empty queue')
  t.ok(await page.locator('#chart svg path').count() >= 3, 'the chart is drawn (queue area, queue line, running line)')
  t.ok(await page.locator('#chart svg rect[fill^="rgba(214"]').count() >= 2, 'both busy periods are shaded')

  // The next periodic sample shows the last tasks finished (the free event came while they ran).
  await page.waitForFunction("document.getElementById('running').textContent === '0'", undefined, { timeout: 15000 })
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true })
  if (process.env.UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true })

  // A phone: 390 px wide. Nothing wider than the screen but the HAProxy table, which scrolls in its box.
  await page.setViewportSize({ width: 390, height: 844 })
  await page.waitForFunction("document.querySelector('#chart svg').getAttribute('width') <= 390", undefined, { timeout: 5000 })
  const narrow = await page.evaluate(`(() => ({
    page: document.documentElement.scrollWidth,
    chart: Number(document.querySelector('#chart svg').getAttribute('width')),
    cards: Math.max(...[...document.querySelectorAll('.card')].map((card) => card.getBoundingClientRect().right))
  }))()`) as { page: number, chart: number, cards: number }
  t.ok(narrow.page <= 390, `no horizontal scrolling at 390 px (page ${narrow.page} px wide)`)
  t.ok(narrow.chart <= 390 - 2 * 12, `the chart fits (${narrow.chart} px)`)
  t.ok(narrow.cards <= 390, `the cards fit (rightmost edge ${narrow.cards} px)`)
  await page.screenshot({ path: `${ARTIFACTS}dashboard-390.png`, fullPage: true })

  t.same(pageErrors, [], 'no script errors on the page')
  t.same(foreignRequests, [], 'the page loads nothing from outside the app (works offline)')
})
