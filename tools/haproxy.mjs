// A real HAProxy as a child process, for the e2e tests (test/helpers/haproxy.ts) and the demo
// (example-app/demo.mjs): writes one of the recipes of example-app/haproxy-config.mjs with a free
// frontend port and an admin stats socket in a fresh temporary folder, checks it (`haproxy -c`),
// runs `haproxy -f cfg -db` in the foreground, talks to its stats socket, and stops it by PID.
//
// Readiness is read from the stats socket (`show stat` until every server is exactly `UP`): HAProxy
// starts a server at `UP 1/2` before any check has run (configuration.txt §5.2 "rise"; the CSV
// fields are in management.txt §9.1, `status` is field 17).
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { haproxyConfig } from '../example-app/haproxy-config.mjs'
import { startChild } from './child.mjs'
import { freePort } from './ports.mjs'
import { haproxyPath } from './system.mjs'

/** Parses `show stat` CSV (the first line is `# pxname,svname,…`) into rows keyed by header name. */
export function parseShowStat (csv) {
  const lines = csv.split('\n').filter((line) => line.trim() !== '')
  const header = lines.shift()
  if (header === undefined || !header.startsWith('# ')) throw new Error(`not a show stat answer: ${csv.slice(0, 80)}`)
  const names = header.slice(2).split(',')
  return lines.map((line) => {
    const values = line.split(',')
    return Object.fromEntries(names.map((name, index) => [name, values[index] ?? '']).filter(([name]) => name !== ''))
  })
}

/** Parses `show servers state`: a version line, a `# be_id be_name …` header, then space-separated
 * rows (`srv_op_state` 2 = UP, 0 = DOWN; `srv_admin_state` 8 = drain). */
export function parseServersState (text) {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  const headerIndex = lines.findIndex((line) => line.startsWith('# '))
  if (headerIndex === -1) throw new Error(`not a show servers state answer: ${text.slice(0, 80)}`)
  const names = lines[headerIndex].slice(2).trim().split(/\s+/)
  return lines.slice(headerIndex + 1).map((line) => {
    const values = line.trim().split(/\s+/)
    return Object.fromEntries(names.map((name, index) => [name, values[index] ?? '']))
  })
}

/** Sends one command to an admin stats socket and returns the whole answer (HAProxy closes the
 * connection after answering a non-interactive command). */
export function socketCommand (socketPath, command) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let answer = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => { socket.end(`${command}\n`) })
    socket.on('data', (chunk) => { answer += chunk })
    socket.on('error', reject)
    socket.on('close', (hadError) => { if (!hadError) resolve(answer) })
  })
}

function isSocketNotReady (error) {
  // The socket does not exist until HAProxy has parsed its config; ECONNRESET: the listener exists
  // but HAProxy does not accept on it yet.
  return ['ENOENT', 'ECONNREFUSED', 'ECONNRESET'].includes(error?.code)
}

/** A running HAProxy child and its stats socket. */
export class Haproxy {
  #dir
  #managed

  constructor ({ binary, dir, config, frontendPort, managed }) {
    this.binary = binary
    this.#dir = dir
    this.config = config
    this.configPath = join(dir, 'haproxy.cfg')
    this.socketPath = join(dir, 'admin.sock')
    this.frontendPort = frontendPort
    this.url = `http://127.0.0.1:${frontendPort}`
    this.#managed = managed
  }

  get pid () { return this.#managed.pid }
  /** True while the child runs. */
  get running () { return this.#managed.running }
  /** What HAProxy wrote (alerts, warnings), for failure messages. */
  get output () { return this.#managed.output() }

  command (command) { return socketCommand(this.socketPath, command) }
  async stat () { return parseShowStat(await this.command('show stat')) }

  /** Server rows of `be_app` (not FRONTEND/BACKEND). */
  async servers () {
    return (await this.stat()).filter((row) => row.pxname === 'be_app' && row.svname !== 'BACKEND')
  }

  /** The `be_app` BACKEND row (qcur: requests in HAProxy's backend queue). */
  async backend () {
    const row = (await this.stat()).find((candidate) => candidate.pxname === 'be_app' && candidate.svname === 'BACKEND')
    if (row === undefined) throw new Error('no be_app BACKEND row in show stat')
    return row
  }

  async serversState () { return parseServersState(await this.command('show servers state be_app')) }

  /** Polls `show stat` until `predicate(serverRows)` holds; resolves with those rows and the time it
   * took. Rejects after `timeout` ms with the last rows seen. */
  async waitFor (predicate, { timeout = 10000, interval = 25 } = {}) {
    const started = performance.now()
    let last = []
    for (;;) {
      if (!this.running) throw new Error(`haproxy exited while waiting:\n${this.output}`)
      try {
        last = await this.servers()
        if (predicate(last)) return { servers: last, elapsedMs: performance.now() - started }
      } catch (error) {
        if (!isSocketNotReady(error)) throw error
      }
      if (performance.now() - started > timeout) {
        throw new Error(`timed out after ${timeout} ms; servers: ${last.map((row) => `${row.svname}=${row.status}`).join(' ')}`)
      }
      await sleep(interval)
    }
  }

  /** Waits until server `name`'s status satisfies `predicate` (e.g. `(s) => s === 'DOWN'`). */
  async waitForServer (name, predicate, options = {}) {
    const { servers, elapsedMs } = await this.waitFor((rows) => {
      const row = rows.find((candidate) => candidate.svname === name)
      return row !== undefined && predicate(row.status ?? '', row)
    }, options)
    return { row: servers.find((candidate) => candidate.svname === name), elapsedMs }
  }

  /** Waits until every server reads exactly `UP` (not `UP 1/2`, the state before any check). */
  async waitAllUp (options = {}) {
    return (await this.waitFor((rows) => rows.length > 0 && rows.every((row) => row.status === 'UP'), options)).servers
  }

  /**
   * Points server `name` of `be_app` at another address through the runtime API (management.txt
   * §9.3, `set server <backend>/<server> addr … port …` and `… agent-addr … port …`). Traffic and
   * the health check follow at once (the config gives the check no port of its own); `agentPort`
   * moves the agent check too. For a replacement process that listens on a port the OS picked: coming back
   * on the predecessor's port would race every other program on the machine, since the OS may hand
   * a just-released port to anyone (a `listen(0)`, or the local end of an outgoing connection)
   * before the replacement binds it. Rejects with HAProxy's answer when it refuses.
   */
  async moveServer (name, { host = '127.0.0.1', port, agentPort = null }) {
    await this.#set(`set server be_app/${name} addr ${host} port ${port}`)
    if (agentPort !== null) await this.#set(`set server be_app/${name} agent-addr ${host} port ${agentPort}`)
  }

  // A `set server` that worked answers nothing, or says what changed ("IP changed from …", "no need
  // to change the addr, port changed from …"); a refusal is any other text ("No such server.").
  async #set (command) {
    const answer = (await this.command(command)).trim()
    if (answer !== '' && !/changed from/.test(answer)) throw new Error(`haproxy refused \`${command}\`: ${answer}`)
  }

  /** Stops HAProxy by PID (SIGTERM) and removes its folder. Safe to call twice. */
  async stop () {
    await this.#managed.stop({ killAfterMs: 5000 })
    await rm(this.#dir, { recursive: true, force: true })
  }
}

function execFileText (file, args) {
  return new Promise((resolve) => {
    execFile(file, args, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : (typeof error.code === 'number' ? error.code : 1), output: `${stdout}${stderr}` })
    })
  })
}

/**
 * Writes the recipe's config (example-app/haproxy-config.mjs options; frontendPort and statsSocket
 * are chosen here), or the text `write({ frontendPort, statsSocket })` returns, checks it, starts
 * HAProxy and waits until every server is exactly UP. Call `stop()` on the result; if start-up
 * fails, everything started is already stopped.
 */
export async function startHaproxy ({ binary = haproxyPath(), readyTimeout = 10000, write, ...configOptions }) {
  // Short folder name: a socket path must stay under ~107 characters.
  const dir = await mkdtemp(join(tmpdir(), 'hap-'))
  const frontendPort = await freePort()
  const where = { frontendPort, statsSocket: join(dir, 'admin.sock') }
  const config = write === undefined ? haproxyConfig({ ...configOptions, ...where }) : write(where)
  const configPath = join(dir, 'haproxy.cfg')
  await writeFile(configPath, config)
  const check = await execFileText(binary, ['-c', '-f', configPath])
  if (check.code !== 0) {
    await rm(dir, { recursive: true, force: true })
    throw new Error(`haproxy -c rejected the config:\n${check.output}\n${config}`)
  }
  const managed = startChild(binary, ['-f', configPath, '-db'])
  const haproxy = new Haproxy({ binary, dir, config, frontendPort, managed })
  try {
    await haproxy.waitAllUp({ timeout: readyTimeout })
  } catch (error) {
    await haproxy.stop()
    throw error
  }
  return haproxy
}
