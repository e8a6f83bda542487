// The example app's pool worker (piscina). Each task is { op, ... }:
//   { op: 'page', rows? }                  render the "not lean" catalogue page (CPU-heavy)
//   { op: 'upstream', url, timeoutMs }      fetch the slow upstream with a timeout
//   { op: 'block', ms }                     hold this thread `ms` without CPU (Atomics.wait)
// The page is rendered as real apps render: a Handlebars template and a markdown article (marked),
// here in the worker thread, because rendering is the CPU-heavy part of a request.
import { threadId } from 'node:worker_threads'
import Handlebars from 'handlebars'
import { marked } from 'marked'

const cell = new Int32Array(new SharedArrayBuffer(4))

const PAGE_TEMPLATE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left}.low{color:#b00}</style></head>
<body><h1>{{title}}</h1>
<p>Rendered by worker thread {{threadId}} in {{renderMs}} ms.</p>
{{{article}}}
<h2>Catalogue ({{count}} items, total stock value {{totalValue}})</h2>
{{#each categories}}<h3>{{name}} <small>({{items.length}} items, mean price {{meanPrice}})</small></h3>
<table><thead><tr><th>#</th><th>SKU</th><th>Name</th><th>Price</th><th>Stock</th><th>Tags</th></tr></thead><tbody>
{{#each items}}<tr><td>{{inc @index}}</td><td>{{sku}}</td><td>{{name}}</td><td>{{price}}</td><td>{{#if low}}<span class="low">{{stock}} (low)</span>{{else}}{{stock}}{{/if}}</td><td>{{#each tags}}{{this}} {{/each}}</td></tr>
{{/each}}</tbody></table>
{{/each}}
</body></html>`

const ARTICLE = `# Why this page is slow on purpose

This page stands for a real server-side render: *templates*, **data shaping** and markdown, all
in \`JavaScript\` on a worker thread, so the main thread stays free to answer the
[health probe](/dashboard) while every thread is busy.

- the catalogue is rebuilt and sorted on every request
- every cell goes through the template engine and is escaped
- this article is rendered from markdown each time

\`\`\`
app.get('/page', (request) => request.runInPool({ op: 'page' }))
\`\`\`
`

const WORDS = ['amber', 'basalt', 'cobalt', 'dune', 'ember', 'fjord', 'granite', 'harbor', 'iris', 'jade', 'kelp', 'lumen']

/** A small deterministic PRNG (mulberry32), so every render does the same work. */
function random (seed) {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function catalogue (rows) {
  const next = random(42)
  const pick = () => WORDS[Math.floor(next() * WORDS.length)]
  const items = Array.from({ length: rows }, (_, index) => {
    const stock = Math.floor(next() * 200)
    return {
      sku: `SKU-${String(index).padStart(5, '0')}`,
      name: `${pick()} ${pick()} ${pick()}`,
      category: pick(),
      price: Math.round(next() * 100000) / 100,
      stock,
      low: stock < 10,
      tags: [pick(), pick(), pick()]
    }
  })
  items.sort((a, b) => a.name.localeCompare(b.name) || a.price - b.price)
  const byCategory = new Map()
  for (const item of items) byCategory.set(item.category, [...(byCategory.get(item.category) ?? []), item])
  const categories = [...byCategory].sort(([a], [b]) => a.localeCompare(b)).map(([name, list]) => ({
    name,
    items: list,
    meanPrice: (list.reduce((sum, item) => sum + item.price, 0) / list.length).toFixed(2)
  }))
  const totalValue = items.reduce((sum, item) => sum + item.price * item.stock, 0).toFixed(2)
  return { categories, count: items.length, totalValue }
}

// Compiled once per thread, as an app compiles its templates at start; each render still walks the
// whole catalogue, escapes every cell and renders the article.
const RENDER_MS = '__RENDER_MS__'
const templates = Handlebars.create()
templates.registerHelper('inc', (index) => index + 1)
const page = templates.compile(PAGE_TEMPLATE)

function renderPage ({ rows = 2000 }) {
  const started = performance.now()
  const data = { title: 'fastify-backpressure example catalogue', threadId, article: marked.parse(ARTICLE), ...catalogue(rows) }
  // The render time is known only once the page is rendered: a placeholder, filled in after.
  const html = page({ ...data, renderMs: RENDER_MS })
  return html.replace(RENDER_MS, (performance.now() - started).toFixed(1))
}

async function callUpstream ({ url, timeoutMs }) {
  const started = performance.now()
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    const body = await response.json()
    return { ok: response.ok, status: response.status, body, ms: Math.round(performance.now() - started) }
  } catch (error) {
    // A timeout is an expected outcome of a slow upstream: report it as data, the route maps it to 504.
    if (error.name === 'TimeoutError') return { ok: false, reason: 'timeout', timeoutMs }
    return { ok: false, reason: 'error', message: String(error.message) }
  }
}

export default async function run (task) {
  switch (task.op) {
    case 'page': return renderPage(task)
    case 'upstream': return await callUpstream(task)
    case 'block': Atomics.wait(cell, 0, 0, task.ms); return { blockedMs: task.ms }
    default: throw new Error(`unknown op ${task.op}`)
  }
}
