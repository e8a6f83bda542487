// The example app's /dashboard in a real headless Chromium, with a real HAProxy checking the app
// (recipe "agent", `http-check send-state`): saturate the pool, then the upstream lane, and watch the
// page, drawn from the live Server-Sent Events stream, show the readiness the probe and the agent
// answer with its reason ("busy", "busy: pool", "busy: upstream"), the queue's real peak between two
// samples, integer task counts on the y-axis, every executor side by side (queue, running, concurrency,
// failures by reason), and HAProxy's view of the server; then check it at 390 px wide. Screenshots
// go to test-artifacts/ (gitignored); UPDATE_SCREENSHOTS=1 also writes docs/images/dashboard.png.
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

/** Sends `count` requests to `path` at once; resolves with their statuses. Bounded in count and time. */
async function requestWave (url: string, path: string, count: number): Promise<number[]> {
  return await Promise.all(Array.from({ length: count }, async () => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(30000) })
    await response.arrayBuffer()
    return response.status
  }))
}

/** Sends `count` blocking requests at once (each holds a worker thread `ms`). */
async function blockWave (url: string, count: number, ms: number): Promise<number[]> {
  return await requestWave(url, `/block?ms=${ms}`, count)
}

const needs = { skip: skipUnlessInstalled(CHROMIUM).skip ?? skipUnlessInstalled(HAPROXY).skip }

t.test('the dashboard shows readiness and its reason, the queue\'s peaks, every executor with its failures by reason, and HAProxy\'s view, live', needs, async (t) => {
  const cluster = await startCluster(t, haproxyPath(), {
    instances: 1,
    recipe: 'agent',
    inter: 250,
    agentInter: 250,
    // The upstream lane has THREADS slots and a queue of MAX_QUEUE too; its upstream answers in
    // 600 ms, well inside the lane's deadline.
    env: { POOL_MAX_THREADS: String(THREADS), POOL_MAX_QUEUE: String(MAX_QUEUE), TASK_TIMEOUT_MS: '30000', DASHBOARD_INTERVAL_MS: '1000', UPSTREAM_DELAY_MS: '600', UPSTREAM_TIMEOUT_MS: '20000' }
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
  /** An executor's row in the executors table: its cells by field, its state badge. */
  const executorRow = async (name: string): Promise<Record<string, string>> => await page.evaluate(`(() => {
    const row = document.querySelector('#executors tr[data-executor="${name}"]')
    if (row === null) return {}
    const cells = Object.fromEntries([...row.querySelectorAll('td[data-field]')].map((cell) => [cell.dataset.field, cell.textContent]))
    return { ...cells, state: row.querySelector('.badge').textContent }
  })()`) as Record<string, string>

  await page.goto(`${app.url}/dashboard`)
  await page.waitForSelector('#connection.live', { timeout: 15000 })
  await page.waitForSelector('body[data-state="free"]', { timeout: 15000 })
  t.equal(await text('state'), 'free', 'the readiness the probe answers: free')
  t.equal(await text('queued'), '0', 'an idle pool shows an empty queue')
  t.equal(await text('reason'), '', 'free: no reason')
  await page.waitForSelector('#executors tr[data-executor="upstream"]', { timeout: 15000 })
  t.same(await page.evaluate("[...document.querySelectorAll('#executors tr')].map((row) => row.dataset.executor)"), ['pool', 'upstream'], 'every executor: the pool, then the lane')
  t.match(await executorRow('pool'), { state: 'free', queued: '0', running: '0', concurrency: String(THREADS), queueFull: '0' }, 'the pool\'s row')
  t.match(await executorRow('upstream'), { state: 'free', queued: '0', running: '0', concurrency: String(THREADS), queueFull: '0' }, 'the lane\'s row, beside it')
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
    const pool = document.querySelector('#executors tr[data-executor="pool"]')
    const shown = { state: text('state'), reason: text('reason'), queued: Number(text('queued')), poolState: pool.querySelector('.badge').textContent, poolQueued: Number(pool.querySelector('[data-field="queued"]').textContent) }
    return shown.state === 'busy' && shown.queued > 0 ? shown : false
  })()`, undefined, { timeout: 20000, polling: 50 })
  const shown = await seen.jsonValue() as { state: string, reason: string, queued: number, poolState: string, poolQueued: number }
  t.equal(shown.state, 'busy', 'the page says busy (the probe\'s readiness)')
  t.equal(shown.reason, 'busy: pool', 'and why, as the agent tells HAProxy')
  t.ok(shown.queued > 0, `the page shows a non-zero queue (${shown.queued})`)
  t.same([shown.poolState, shown.poolQueued], ['busy', shown.queued], 'the pool\'s row says the same')
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

  t.match(await executorRow('pool'), { queueFull: String(refused), displaced: '0', timedOut: '0' }, 'the pool\'s row counts the refused tasks')
  t.match(await executorRow('upstream'), { queueFull: '0' }, 'the lane refused nothing')

  // The lane: ten calls to the upstream, two at a time and four waiting; the rest are refused.
  const laneWave = requestWave(app.url, '/upstream', 10)
  const laneSeen = await page.waitForFunction(`(() => {
    const lane = document.querySelector('#executors tr[data-executor="upstream"]')
    const shown = { reason: document.getElementById('reason').textContent, laneState: lane.querySelector('.badge').textContent, laneQueued: Number(lane.querySelector('[data-field="queued"]').textContent) }
    return shown.laneState === 'busy' && shown.laneQueued > 0 ? shown : false
  })()`, undefined, { timeout: 20000, polling: 50 })
  const laneShown = await laneSeen.jsonValue() as { reason: string, laneState: string, laneQueued: number }
  t.equal(laneShown.reason, 'busy: upstream', 'a full lane: busy, naming the lane')
  t.ok(laneShown.laneQueued > 0 && laneShown.laneQueued <= MAX_QUEUE, `the lane's row shows its queue (${laneShown.laneQueued})`)
  const laneStatuses = await laneWave
  const laneRefused = laneStatuses.filter((status) => status === 503).length
  t.equal(laneRefused + laneStatuses.filter((status) => status === 200).length, 10, `every call was served or refused: ${laneStatuses.join(' ')}`)
  t.ok(laneRefused > 0, `the lane's queue of ${MAX_QUEUE} refused ${laneRefused}`)
  await page.waitForFunction(`document.querySelector('#executors tr[data-executor="upstream"] [data-field="queueFull"]').textContent === '${laneRefused}'`, undefined, { timeout: 15000 })
  t.match(await executorRow('upstream'), { queueFull: String(laneRefused), timedOut: '0', concurrency: String(THREADS) }, 'the lane\'s row counts its refused calls')
  t.match(await executorRow('pool'), { queueFull: String(refused) }, 'the pool\'s count is its own')
  await page.waitForSelector('body[data-state="free"]', { timeout: 15000 })

  // The next periodic sample shows the last tasks and calls finished (the free events came while they ran).
  await page.waitForFunction("document.getElementById('running').textContent === '0'", undefined, { timeout: 15000 })
  await page.waitForFunction("document.querySelector('#executors tr[data-executor=\"upstream\"] [data-field=\"running\"]').textContent === '0'", undefined, { timeout: 15000 })
  mkdirSync(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true })
  if (process.env.UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true })

  // A phone: 390 px wide. Nothing wider than the screen but the tables, which scroll in their boxes.
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
