// The docs cannot drift from the code: every fenced block in README.md and docs/*.md whose info
// string names a file (```js title="server.mjs"```) is a complete file, and this test runs it.
// Blocks without a title are fragments and are not run.
//
// Each markdown file's titled blocks are written, as they are, into one fresh `npm init -y` project
// with the packed package installed (test/helpers/packed-package.ts: one pack per run), then:
// - .mjs/.cjs/.js servers listed in SERVERS are started (a block that reads process.env.PORT gets
//   PORT=0, a free port; the port actually bound is read from Fastify's "Server listening at" line)
//   and asked what the docs say they answer; every process is stopped by its PID;
// - .mts/.cts/.ts files are type-checked with `strict` and `skipLibCheck: false` under
//   moduleResolution node16 and bundler, and compiled under nodenext; a compiled server is then run
//   like the JavaScript ones;
// - a titled .cfg block fenced as haproxy (docs/haproxy.md) is a complete HAProxy configuration:
//   it must be what example-app/haproxy-config.mjs writes for the recipe its title names, and
//   `haproxy -c` must accept it (with CI=true a missing haproxy fails the test);
// - a balancer's configuration (```nginx title="nginx.conf"```, ```apache title="httpd.conf"```,
//   ```vcl title="default.vcl"```) is checked by the balancer itself (`nginx -t`, `apache2 -t`,
//   `varnishd -C`) with its ports and paths moved (tools/balancers.mjs); its e2e test runs it;
// - a titled .js file that no server uses, or a title of a kind this test cannot run, fails the test:
//   give it no title if it is a fragment.
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { basename, dirname, extname, join } from 'node:path'
import { marked } from 'marked'
import t, { type Test } from 'tap'
import * as errors from '../../lib/errors.js'
import { RECIPES, sampleConfig, type Recipe } from '../../example-app/haproxy-config.mjs'
import { nodeEnv, startChild } from '../../tools/child.mjs'
import { haproxyAvailability } from '../helpers/haproxy.js'
import { codeBlocks } from '../helpers/haproxy-sample.js'
import { BALANCERS, balancerForLang, checkConfig } from '../../tools/balancers.mjs'
import { programPath, skipUnlessInstalled } from '../../tools/system.mjs'
import { ROOT, packedPackage, run, scratchProject } from '../helpers/packed-package.js'

// Several tsc runs with skipLibCheck false (10-50 s each on a loaded 2-core machine): more than the
// suite's 180 s per file when two `npm test` run side by side. tap's root `t.setTimeout` tells the
// runner this file's own bound.
t.setTimeout(480_000)
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const MARKDOWN = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)]
const RUNNABLE = new Set(['.mjs', '.cjs', '.js'])
const TYPESCRIPT = new Set(['.mts', '.cts', '.ts'])
/** HAProxy configurations: `haproxy-<recipe>.cfg`, checked with `haproxy -c`, not run here. */
const HAPROXY = /^haproxy-(.+)\.cfg$/

interface Block { markdown: string, title: string, lang: string, text: string }

/** What a server block answers, per `<markdown file>#<title>`: `check` asserts over real HTTP;
 * `env` gives the variables the block reads (besides PORT), set up for the test. */
interface ServerSpec {
  env?: (t: Test) => Promise<Record<string, string>>
  check: (t: Test, url: string) => Promise<void>
}
type ServerCheck = ServerSpec['check']

/** The Quick start's promise: the probe, a route answered by a worker thread, and /metrics. */
const quickStart: ServerCheck = async (t, url) => {
  const probe = await fetch(`${url}/`, { method: 'OPTIONS' })
  t.equal(probe.status, 200, 'OPTIONS / (the probe) answers 200')
  const hello = await fetch(`${url}/hello/docs`)
  t.equal(hello.status, 200, 'GET /hello/docs answers 200')
  const body = await hello.json() as { greeting: string, threadId: number }
  t.equal(body.greeting, 'hello docs', 'answered by the worker')
  t.ok(Number.isInteger(body.threadId) && body.threadId > 0, `on a worker thread (threadId ${body.threadId}), not the main one`)
  const metrics = await fetch(`${url}/metrics`)
  t.equal(metrics.status, 200, 'GET /metrics answers 200')
  t.match(await metrics.text(), /^backpressure_pool_tasks_completed_total 1$/m, 'and counts the task')
}

/** A stand-in for the slow service of the lanes variant: loopback, port 0, closed by the test. */
async function upstream (t: Test): Promise<{ url: string, requests: () => number }> {
  let count = 0
  const server = createServer((_request, response) => {
    count++
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify({ quote: 'from the upstream' }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests: () => count }
}

let lanesUpstream: { url: string, requests: () => number } | undefined
const SERVERS: Record<string, ServerSpec> = {
  'README.md#server.mjs': { check: quickStart },
  'README.md#server.cjs': { check: quickStart },
  'README.md#server.mts': { check: quickStart },
  'README.md#server-lanes.mjs': {
    env: async (t) => {
      lanesUpstream = await upstream(t)
      return { UPSTREAM_URL: lanesUpstream.url }
    },
    check: async (t, url) => {
      const probe = await fetch(`${url}/`, { method: 'OPTIONS' })
      t.equal(probe.status, 200, 'OPTIONS / (the probe) answers 200 with lanes and no pool')
      const quote = await fetch(`${url}/quote`)
      t.equal(quote.status, 200, 'GET /quote answers 200')
      t.same(await quote.json(), { quote: 'from the upstream' }, 'with what the upstream said, through the lane')
      t.equal(lanesUpstream?.requests(), 1, 'the upstream got the one call')
      const metrics = await fetch(`${url}/metrics`)
      t.equal(metrics.status, 200, 'GET /metrics answers 200')
      t.match(await metrics.text(), /^backpressure_lane_queue_depth\{lane="upstream"\} 0$/m, 'with the lane\'s series')
    }
  },
  'docs/priorities.md#server-priorities.mjs': {
    check: async (t, url) => {
      t.same(await (await fetch(`${url}/product/7`)).json(), { id: '7', html: '<h1>Product 7</h1>' }, 'GET /product/7 (priority 10)')
      t.same(await (await fetch(`${url}/prefetch/7`)).json(), { id: '7', html: '<h1>Product 7</h1>' }, 'GET /prefetch/7 (priority -10)')
      t.same(await (await fetch(`${url}/report/7`)).json(), { summary: { id: '7', html: '<h1>Product 7</h1>' }, details: { id: '7', html: '<h1>Product 7</h1>' } })
      const metrics = await (await fetch(`${url}/metrics`)).text()
      t.match(metrics, /^backpressure_pool_tasks_completed_total 4$/m, 'four tasks ran')
      t.match(metrics, '# TYPE backpressure_pool_tasks_refused_total counter', 'with the refusals by priority')
    }
  }
}

const blocks: Block[] = []
for (const markdown of MARKDOWN) {
  for (const code of codeBlocks(marked.lexer(await readFile(join(ROOT, markdown), 'utf8')))) {
    const title = /(?:^|\s)title="([^"]+)"/.exec(code.lang ?? '')?.[1]
    if (title !== undefined) blocks.push({ markdown, title, lang: (code.lang ?? '').split(/\s/)[0] ?? '', text: `${code.text}\n` })
  }
}
// (Map.groupBy is Node 21+.)
const byMarkdown = new Map<string, Block[]>()
for (const block of blocks) byMarkdown.set(block.markdown, [...(byMarkdown.get(block.markdown) ?? []), block])

t.test('the Quick start has the files it promises', async (t) => {
  const titles = (byMarkdown.get('README.md') ?? []).map((block) => block.title)
  for (const title of ['server.mjs', 'worker.mjs', 'server.cjs', 'worker.cjs', 'server.mts']) t.ok(titles.includes(title), `README.md has a block titled ${title}`)
  t.same(Object.keys(SERVERS).filter((key) => !blocks.some((block) => `${block.markdown}#${block.title}` === key)), [],
    'every server this test knows is still in the docs')
})

t.test('every titled block is one this test can run', async (t) => {
  for (const [markdown, list] of byMarkdown) {
    const titles = list.map((block) => block.title)
    t.same(titles.filter((title, index) => titles.indexOf(title) !== index), [], `${markdown}: titles are unique`)
    for (const block of list) {
      const balancer = balancerForLang(block.lang)
      if (balancer !== undefined) {
        t.equal(block.title, BALANCERS[balancer].title, `${markdown}: its ${block.lang} block is titled ${BALANCERS[balancer].title} (what its checker and e2e test read)`)
        continue
      }
      const extension = extname(block.title)
      const used = SERVERS[`${markdown}#${block.title}`] !== undefined ||
        list.some((other) => other !== block && other.text.includes(block.title))
      if (HAPROXY.test(block.title)) {
        t.equal(block.lang, 'haproxy', `${markdown}: ${block.title} is fenced as haproxy`)
        continue
      }
      if (RUNNABLE.has(extension)) t.ok(used, `${markdown}: ${block.title} is a server this test checks, or a file one of them uses`)
      else t.ok(TYPESCRIPT.has(extension), `${markdown}: ${block.title} is JavaScript, TypeScript or an HAProxy configuration (give fragments no title)`)
      t.equal(block.lang, TYPESCRIPT.has(extension) ? 'ts' : 'js', `${markdown}: ${block.title} is fenced as ${block.lang}`)
    }
  }
})

t.test('every balancer configuration passes the balancer\'s own check', async (t) => {
  const configs = blocks.filter((block) => balancerForLang(block.lang) !== undefined)
  t.ok(configs.length >= 3, `nginx.conf, httpd.conf and default.vcl are in the docs (${configs.map((block) => block.title).join(', ')})`)
  for (const block of configs) {
    const kind = balancerForLang(block.lang)
    if (kind === undefined) continue
    const { system } = BALANCERS[kind]
    // Under CI=true a missing program fails here (programPath throws), never skips.
    await t.test(`${block.markdown}: ${block.title}`, skipUnlessInstalled(system), async (t) => {
      const { code, output } = await checkConfig(kind, block.text, { binary: programPath(system) })
      t.equal(code, 0, `${system.program} accepts it${code === 0 ? '' : `\n${output}`}`)
    })
  }
})

t.test('every docs page is linked from the README, and every relative link resolves', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  for (const page of MARKDOWN.filter((name) => name.startsWith('docs/'))) {
    t.ok(readme.includes(`](${page})`), `README.md links ${page}`)
  }
  for (const markdown of MARKDOWN) {
    const text = await readFile(join(ROOT, markdown), 'utf8')
    // Links and images outside code: [label](target) with a relative target, anchors stripped.
    const prose = text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '')
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (target === undefined || /^[a-z]+:/i.test(target) || target.startsWith('#')) continue
      const path = join(ROOT, dirname(markdown), target.replace(/#.*$/, ''))
      t.ok(existsSync(path), `${markdown}: ${target} exists`)
    }
  }
})

t.test('the README lists every error code', async (t) => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  // Each exported error class (its name ends in Error), instantiated without arguments for its code.
  const codes = Object.entries(errors).flatMap(([name, value]) => {
    if (!name.endsWith('Error') || typeof value !== 'function') return []
    const code = (new (value as unknown as new () => { code?: unknown })()).code
    return typeof code === 'string' ? [code] : []
  })
  t.ok(codes.length >= 10, `lib/errors.ts codes: ${codes.join(', ')}`)
  for (const code of codes) t.match(readme, `| \`${code}\` |`, `README.md's error table has ${code}`)
})

/** Option names the option scheme replaced or dropped: no page may name them any more. */
const OLD_OPTION_NAMES = [
  'checkIntervalMs', 'checkTimeoutMs', 'graceMs', 'deadlineMs', 'busyStatusCode', 'maxServerStateNodes', 'maxConnections',
  'reconnectMinMs', 'reconnectMaxMs', 'intervalMs', 'timeoutMs', 'haproxy.inter', 'haproxy.fall', 'haproxy: {', 'liveness: {',
  'agent.queue`', 'isRetryablePoolError', 'isRetryableLaneError', 'RETRYABLE_POOL_ERROR_CODES', 'RETRYABLE_LANE_ERROR_CODES',
  'POOL_CLOSED', 'LANE_CLOSED', 'LaneConfig', 'BackpressurePoolEvents', '`RunOptions`', 'admission: true', 'lane_limit',
  'lane_calls_', 'running_calls', 'HTTPCHK_BUSY_STATUS'
]

t.test('no page names an option, export or code the option scheme replaced', async (t) => {
  for (const markdown of MARKDOWN.filter((name) => name !== 'docs/benchmarks.md')) {
    const text = await readFile(join(ROOT, markdown), 'utf8')
    for (const old of OLD_OPTION_NAMES) t.notOk(text.includes(old), `${markdown} does not name ${old}`)
  }
})

t.test('every HAProxy configuration block is a complete one the generator writes, and haproxy -c accepts it', async (t) => {
  const configs = blocks.filter((block) => HAPROXY.test(block.title))
  const recipes = configs.map((block) => (HAPROXY.exec(block.title) as RegExpExecArray)[1])
  t.same([...recipes].sort(), [...RECIPES].sort(), 'docs/haproxy.md has one per recipe')
  for (const block of configs) {
    const recipe = (HAPROXY.exec(block.title) as RegExpExecArray)[1] as Recipe
    t.equal(block.markdown, 'docs/haproxy.md')
    t.equal(block.text, sampleConfig(recipe), `${block.title} is example-app/haproxy-config.mjs's ${recipe} recipe, as written`)
    for (const section of ['global', 'defaults', 'frontend fe_app', 'backend be_app']) t.match(block.text, new RegExp(`^${section}$`, 'm'), `${block.title} has ${section}`)
    for (const timeout of ['connect', 'client', 'server', 'queue', 'check']) t.match(block.text, new RegExp(`^ {4}timeout ${timeout} \\d+ms$`, 'm'), `${block.title} sets timeout ${timeout}`)
  }
  const sample = await readFile(join(ROOT, 'example-app/haproxy.cfg'), 'utf8')
  t.ok(sample.endsWith(sampleConfig('agent')), "example-app/haproxy.cfg holds the agent recipe's block, after its header")

  const availability = haproxyAvailability()
  if (availability.path === undefined) {
    if (availability.ci) t.fail(availability.message)
    else t.comment(`haproxy -c not run: ${availability.message}`)
    return
  }
  const dir = await mkdtemp(join(tmpdir(), 'docs-haproxy-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  for (const block of configs) {
    const file = join(dir, block.title)
    await writeFile(file, block.text)
    const output = await run(availability.path, ['-c', '-f', file], dir)
    t.equal(output.code, 0, `haproxy -c accepts ${block.title}${output.code === 0 ? '' : `:\n${output.stdout}${output.stderr}`}`)
  }
})

/** Starts `file` with node in `cwd`, waits for Fastify's listening line, runs the check, stops it by PID. */
async function serve (t: Test, cwd: string, file: string, readsPort: boolean, spec: ServerSpec): Promise<void> {
  const env = { ...(await spec.env?.(t)), ...(readsPort ? { PORT: '0' } : {}) }
  const server = startChild(process.execPath, [file], { cwd, env: nodeEnv(env) })
  t.teardown(() => server.stop({ signal: 'SIGKILL' }))
  const line = await server.waitForLine((l) => l.includes('Server listening at http://127.0.0.1:'))
  const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1]
  if (url === undefined) throw new Error(`no URL in ${line}`)
  if (!readsPort) t.equal(url, 'http://127.0.0.1:3000', 'listens on 127.0.0.1:3000 as written')
  await spec.check(t, url)
  await server.stop()
  t.notOk(server.running, `${file} stopped`)
}

t.test('the titled blocks run (or compile) as written, against the packed package', async (t) => {
  const packed = await packedPackage()
  for (const [markdown, all] of byMarkdown) {
    // HAProxy configurations are checked above; a page with nothing else needs no project.
    const list = all.filter((block) => !HAPROXY.test(block.title))
    if (list.length === 0) continue
    await t.test(markdown, async (t) => {
      const { dir } = await scratchProject(t, packed, 'docs-test-')
      for (const block of list) {
        await mkdir(dirname(join(dir, block.title)), { recursive: true })
        await writeFile(join(dir, block.title), block.text)
      }
      const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { type?: string }
      t.not(manifest.type, 'module', `a fresh \`npm init -y\` project (type ${String(manifest.type)}): .js would be CommonJS`)

      // Servers that readers run as written (no PORT override) share 127.0.0.1:3000: one at a time.
      for (const block of list.filter((b) => RUNNABLE.has(extname(b.title)))) {
        const spec = SERVERS[`${markdown}#${block.title}`]
        if (spec === undefined) continue
        await t.test(`node ${block.title}`, async (t) => {
          await serve(t, dir, block.title, block.text.includes('process.env.PORT'), spec)
        })
      }

      const typescript = list.filter((b) => TYPESCRIPT.has(extname(b.title)))
      if (typescript.length === 0) return
      const base = {
        target: 'ES2022',
        strict: true,
        skipLibCheck: false,
        // piscina 5.3's own .d.ts imports its package.json (docs/compatibility.md).
        resolveJsonModule: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')]
      }
      const settings = {
        node16: { ...base, module: 'node16', moduleResolution: 'node16', noEmit: true },
        bundler: { ...base, module: 'preserve', moduleResolution: 'bundler', noEmit: true },
        nodenext: { ...base, module: 'nodenext', moduleResolution: 'nodenext', outDir: 'compiled' }
      }
      // Three tsc processes side by side (each ~10-30 s with skipLibCheck false on a loaded machine).
      const checks = await Promise.all(Object.entries(settings).map(async ([resolution, compilerOptions]) => {
        const tsconfig = join(dir, `tsconfig.${resolution}.json`)
        await writeFile(tsconfig, JSON.stringify({ compilerOptions, files: typescript.map((b) => b.title) }))
        return { resolution, output: await run(process.execPath, [tsc, '-p', tsconfig], dir) }
      }))
      for (const { resolution, output } of checks) {
        t.equal(output.code, 0, `${typescript.map((b) => b.title).join(', ')} compile under moduleResolution ${resolution}` +
          (output.code === 0 ? '' : `\n${output.stdout}\n${output.stderr}`))
      }
      // The compiled servers run next to the JavaScript files of the same page (their workers).
      for (const block of typescript) {
        const spec = SERVERS[`${markdown}#${block.title}`]
        if (spec === undefined) continue
        const compiled = block.title.replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs').replace(/\.ts$/, '.js')
        await t.test(`node ${compiled} (tsc's output of ${block.title})`, async (t) => {
          for (const other of list.filter((b) => RUNNABLE.has(extname(b.title)) && basename(b.title) !== compiled)) {
            await copyFile(join(dir, other.title), join(dir, 'compiled', other.title))
          }
          await serve(t, join(dir, 'compiled'), compiled, block.text.includes('process.env.PORT'), spec)
        })
      }
    })
  }
})
