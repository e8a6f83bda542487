// nginx, Apache httpd 2.4 and Varnish (Debian packages `nginx`, `apache2`, `varnish`) as foreground
// children, each running the configuration docs/balancers.md documents: the titled block is read
// from the page (one copy, the one operators copy), and only its documented ports (the balancer on
// 127.0.0.1:8080, the processes on 127.0.0.1:3000 and 127.0.0.1:3002) and file paths (pid, logs,
// runtime dir) are replaced. Used by the e2e tests (test/e2e/nginx|apache|varnish.test.ts) and by
// the docs test, which checks each block with the balancer's own checker.
//
// How each runs unprivileged-style in a scratch folder:
// - nginx: `nginx -p DIR -c DIR/nginx.conf -e stderr -g 'daemon off;'`; check: `nginx -t`.
// - Apache: `apache2 -f DIR/httpd.conf -DFOREGROUND` (the parent stays in the foreground, its
//   children serve; SIGTERM stops all); check: `apache2 -t`.
// - Varnish: `varnishd -F -f DIR/default.vcl -a 127.0.0.1:PORT -n DIR/work -s malloc,32m`; check:
//   `varnishd -C -f`. As root its default jail (`-j unix`) reads the VCL as the `varnish` user, so
//   the scratch folder is world-readable (as /etc/varnish is).
// User/Group directives (www-data) take effect as root and are ignored otherwise.
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { marked } from 'marked'
import { startChild } from './child.mjs'
import { freePort } from './ports.mjs'
import { APACHE, NGINX, VARNISH } from './system.mjs'

export const BALANCERS_DOC = fileURLToPath(new URL('../docs/balancers.md', import.meta.url))

/** The addresses the documented configurations name: the balancer, then the two processes. */
export const DOC_PORTS = Object.freeze({ listen: 8080, upstreams: Object.freeze([3000, 3002]) })

/**
 * Per balancer: its program, the doc block's title and fence language, the documented paths a run
 * moves into its scratch folder (`[documented, name in the folder]`), and where the listen port is
 * (in the file, or on varnishd's command line).
 */
export const BALANCERS = Object.freeze({
  nginx: Object.freeze({ system: NGINX, title: 'nginx.conf', lang: 'nginx', paths: [['/run/nginx.pid', 'nginx.pid'], ['/var/log/nginx/', '']], listenInFile: true }),
  apache: Object.freeze({ system: APACHE, title: 'httpd.conf', lang: 'apache', paths: [['/run/apache2', ''], ['/var/log/apache2', '']], listenInFile: true }),
  varnish: Object.freeze({ system: VARNISH, title: 'default.vcl', lang: 'vcl', paths: [], listenInFile: false })
})

/** The balancer whose doc block has fence language `lang` (```nginx title="nginx.conf"```), or undefined. */
export function balancerForLang (lang) {
  return Object.keys(BALANCERS).find((kind) => BALANCERS[kind].lang === lang)
}

function spec (kind) {
  const found = BALANCERS[kind]
  if (found === undefined) throw new TypeError(`unknown balancer ${String(kind)}: one of ${Object.keys(BALANCERS).join(', ')}`)
  return found
}

/** Every fenced code block of a markdown text, nested ones (in lists) included. */
function codeBlocks (tokens) {
  return tokens.flatMap((token) => {
    if (token.type === 'code') return [token]
    return codeBlocks([...(Array.isArray(token.tokens) ? token.tokens : []), ...(Array.isArray(token.items) ? token.items : [])])
  })
}

/**
 * The text of the block titled as `kind`'s (```nginx title="nginx.conf"```) in `file`.
 * @returns {Promise<string>}
 */
export async function docBlock (kind, file = BALANCERS_DOC) {
  const { title, lang } = spec(kind)
  const found = codeBlocks(marked.lexer(await readFile(file, 'utf8')))
    .filter((code) => /(?:^|\s)title="([^"]+)"/.exec(code.lang ?? '')?.[1] === title)
  if (found.length !== 1) throw new Error(`${file}: expected one block titled ${title}, found ${found.length}`)
  const block = found[0]
  if ((block.lang ?? '').split(/\s/)[0] !== lang) throw new Error(`${file}: the block titled ${title} is not fenced as ${lang}`)
  return `${block.text}\n`
}

function replaceAll (text, from, to, what) {
  if (!text.includes(from)) throw new Error(`the documented configuration no longer names ${what} (${from})`)
  return text.split(from).join(to)
}

/** A port as the configurations write it: `127.0.0.1:3000` (nginx, Apache, comments) or `"3000"` (VCL). */
const PORT_FORMS = [(port) => `127.0.0.1:${port}`, (port) => `"${port}"`]

/**
 * The documented configuration with its ports and paths moved: `listen` and `upstreams` replace
 * 8080, 3000 and 3002 (as `127.0.0.1:PORT` or `"PORT"`), and the documented pid/log/runtime paths
 * point into `dir`. Throws when the text no longer names one of them, or still does afterwards, so
 * a doc edit cannot leave a test running against the documented ports.
 * @param {'nginx' | 'apache' | 'varnish'} kind
 * @param {string} text
 * @param {{ listen: number, upstreams: number[], dir: string }} target
 */
export function substitute (kind, text, { listen, upstreams, dir }) {
  const { paths, listenInFile } = spec(kind)
  if (upstreams.length !== DOC_PORTS.upstreams.length) throw new TypeError(`upstreams: ${DOC_PORTS.upstreams.length} ports, as documented`)
  const moves = DOC_PORTS.upstreams.map((port, index) => [port, upstreams[index]])
  if (listenInFile) moves.unshift([DOC_PORTS.listen, listen])
  // Through placeholders first, so a new port that equals another documented one is not moved twice.
  let out = text
  for (const [index, [from]] of moves.entries()) {
    const forms = PORT_FORMS.filter((form) => out.includes(form(from)))
    if (forms.length === 0) throw new Error(`the documented configuration no longer names port ${from} (${PORT_FORMS.map((form) => form(from)).join(' or ')})`)
    for (const form of forms) out = out.split(form(from)).join(form(`\0${index}\0`))
  }
  for (const [index, [, to]] of moves.entries()) out = out.split(`\0${index}\0`).join(String(to))
  for (const [from, name] of paths) out = replaceAll(out, from, name === '' ? (from.endsWith('/') ? `${dir}/` : dir) : join(dir, name), `path ${from}`)
  return out
}

function run (binary, args) {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : 1), output: `${stdout}${stderr}` })
    })
  })
}

async function scratch (kind) {
  const dir = await mkdtemp(join(tmpdir(), `${kind}-`))
  // Apache's children and Varnish's jailed processes run as other users: they read what is here.
  await chmod(dir, 0o755)
  return dir
}

/** The arguments that check the configuration at `file` (no port is bound). */
function checkCommand (kind, file, dir) {
  if (kind === 'nginx') return ['-t', '-q', '-p', dir, '-c', file, '-e', 'stderr']
  if (kind === 'apache') return ['-t', '-f', file]
  return ['-C', '-f', file, '-n', join(dir, 'work')]
}

/**
 * Runs the balancer's own checker (`nginx -t`, `apache2 -t`, `varnishd -C`) on `text` with its
 * ports and paths substituted. Resolves `{ code, output }`: code 0 when the checker accepts it.
 * @param {'nginx' | 'apache' | 'varnish'} kind
 * @param {string} text the documented configuration
 * @param {{ binary: string }} options
 */
export async function checkConfig (kind, text, { binary }) {
  const dir = await scratch(kind)
  try {
    const file = join(dir, spec(kind).title)
    await writeFile(file, substitute(kind, text, { listen: await freePort(), upstreams: [await freePort(), await freePort()], dir }))
    const result = await run(binary, checkCommand(kind, file, dir))
    // varnishd -C prints the C it would compile: keep only what says why it failed.
    return kind === 'varnish' && result.code === 0 ? { code: 0, output: '' } : result
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Parses the balancer-manager page: each member's URL and status (`Init Ok`, `Init HcFl`, …). */
export function parseBalancerManager (html) {
  const rows = [...html.matchAll(/<td><a href="[^"]*">(https?:\/\/[^<]+)<\/a><\/td>(?:<td>[^<]*<\/td>){4}<td>([^<]*)<\/td>/g)]
  return rows.map(([, url, status]) => ({ url, status: status.trim() }))
}

/**
 * Parses `varnishadm backend.list -p`: each backend's name (without `boot.`), health, and whether
 * its newest probe got an answer (`Good Recv`) and a happy one (`Happy`): a backend sick from an
 * answer was told so by the app, one sick from a timeout may just have been slow. Varnish prints no
 * row whose bits are all unset: then the flag is undefined.
 */
export function parseBackendList (text) {
  const backends = []
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (/^[^\s].*\s(healthy|sick)\s/.test(line)) {
      const [name, admin, probe, health] = fields
      backends.push({ name: name.replace(/^[^.]*\./, ''), admin, probe, health, lastAnswered: undefined, lastHappy: undefined })
      continue
    }
    const current = backends.at(-1)
    const bitmap = /^\s*(\S+) (Good Recv|Happy)$/.exec(line)
    if (current === undefined || bitmap === null) continue
    const newest = bitmap[1].at(-1)
    if (bitmap[2] === 'Good Recv') current.lastAnswered = newest !== '-'
    else current.lastHappy = newest !== '-'
  }
  return backends
}

/**
 * Starts `kind` in the foreground on a free loopback port with the documented configuration in
 * front of `upstreams` (two ports, in the documented order: app1, app2), and resolves once it
 * answers HTTP. `members()` reads the balancer's own view of each process (Apache's
 * balancer-manager, `varnishadm backend.list`; nginx has none), `servedBy()` names the processes in
 * an `X-Served-By` answer header.
 * @param {'nginx' | 'apache' | 'varnish'} kind
 * @param {{ binary: string, upstreams: number[], text?: string, readyTimeoutMs?: number }} options
 */
export async function startBalancer (kind, { binary, upstreams, text, readyTimeoutMs = 30_000 }) {
  const { title } = spec(kind)
  const documented = text ?? await docBlock(kind)
  const listen = await freePort()
  const dir = await scratch(kind)
  const file = join(dir, title)
  const config = substitute(kind, documented, { listen, upstreams, dir })
  await writeFile(file, config)
  const checked = await run(binary, checkCommand(kind, file, dir))
  if (checked.code !== 0) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`${kind}: the configuration was refused:\n${checked.output}\n${config}`)
  }
  const args = kind === 'nginx'
    ? ['-p', dir, '-c', file, '-e', 'stderr', '-g', 'daemon off;']
    : kind === 'apache'
      ? ['-f', file, '-DFOREGROUND']
      : ['-F', '-f', file, '-a', `127.0.0.1:${listen}`, '-n', join(dir, 'work'), '-s', 'malloc,32m']
  const child = startChild(binary, args)
  const url = `http://127.0.0.1:${listen}`
  const names = new Map(upstreams.map((port, index) => [String(port), `app${index + 1}`]))

  async function stop () {
    await child.stop()
    await rm(dir, { recursive: true, force: true })
  }

  async function logs () {
    const files = kind === 'nginx' ? ['error.log', 'access.log'] : kind === 'apache' ? ['error.log', 'access.log'] : []
    const texts = await Promise.all(files.map(async (name) => `--- ${name} ---\n${await readFile(join(dir, name), 'utf8').catch(() => '')}`))
    return [child.output(), ...texts].join('\n')
  }

  // Ready once it answers HTTP at all (Varnish answers 503 until a backend is healthy).
  const deadline = performance.now() + readyTimeoutMs
  for (;;) {
    if (!child.running) {
      const output = await logs()
      await stop()
      throw new Error(`${kind} exited before it answered:\n${output}`)
    }
    try {
      await (await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) })).arrayBuffer()
      break
    } catch (error) {
      if (performance.now() > deadline) {
        const output = await logs()
        await stop()
        throw new Error(`${kind} did not answer within ${readyTimeoutMs} ms (${String(error)}):\n${output}`)
      }
      await sleep(50)
    }
  }

  /** The balancer's own view: `[{ name: 'app1', up: true, status, lastAnswered? }]`, in upstream order. */
  async function members () {
    if (kind === 'apache') {
      // The manager logs an error for a request without a same-origin Referer (AH10187).
      const page = await (await fetch(`${url}/balancer-manager`, { headers: { referer: `${url}/balancer-manager` } })).text()
      return parseBalancerManager(page).map(({ url: member, status }) => ({
        name: names.get(new URL(member).port) ?? member,
        up: /\bOk\b/.test(status),
        status
      }))
    }
    if (kind === 'varnish') {
      const listed = await run('varnishadm', ['-n', join(dir, 'work'), 'backend.list', '-p'])
      if (listed.code !== 0) throw new Error(`varnishadm backend.list failed: ${listed.output}`)
      return parseBackendList(listed.output).filter(({ name }) => /^app\d+$/.test(name))
        .map(({ name, health, lastAnswered }) => ({ name, up: health === 'healthy', status: health, lastAnswered }))
    }
    throw new Error('nginx (open source) has no view of its upstreams\' health')
  }

  /** The processes an `X-Served-By` header names, in the order they were tried (nginx: all tried). */
  function servedBy (header) {
    if (header === null || header === undefined || header === '') return []
    return header.split(',').map((entry) => entry.trim()).map((entry) => {
      const port = /:(\d+)$/.exec(entry)?.[1]
      return port === undefined ? entry : names.get(port) ?? entry
    })
  }

  return { kind, url, port: listen, dir, config, get pid () { return child.pid }, get running () { return child.running }, members, servedBy, logs, stop }
}
