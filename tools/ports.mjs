// Free TCP ports on loopback, for programs that cannot listen on port 0 and report the port they
// got: HAProxy's frontend, Caddy, a recipe that gives each process of a host the next port
// (example-app/cluster.mjs). Anything Node listens on itself listens on port 0 instead, and so do
// the example app's instances (tools/example-app.mjs).
//
// Why not simply listen on port 0, close, and hand the port over: a port is picked here and bound by
// the child a moment later, and in between anyone may take it. Port 0 draws from the OS's ephemeral
// range (Linux: /proc/sys/net/ipv4/ip_local_port_range), which every `listen(0)` and the local end
// of every outgoing connection on the machine draw from too: with another test suite running beside
// this one, a port released there was taken before HAProxy bound it (EADDRINUSE). Below that range
// the OS hands out no port by itself, so a port picked there at random is taken in between only by
// a program that names it.
import { createServer } from 'node:net'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { randomInt } from 'node:crypto'

/** The lowest port picked below the ephemeral range: under it sit the usual dev servers (3000, 8080, 9090…). */
const FLOOR = 10000
/** Random picks tried before falling back to an OS-picked port; starting points tried for a run. */
const ATTEMPTS = 50

/**
 * The low end of the OS's ephemeral port range, or null where it cannot be read (not Linux).
 * @returns {number | null}
 */
export function ephemeralLow () {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    return Number.isInteger(low) ? low : null
  } catch {
    return null
  }
}

/** [10000, the ephemeral range's low end): read once, as the range does not move while we run. */
const BELOW_EPHEMERAL = (() => {
  const low = ephemeralLow()
  return low !== null && low > FLOOR ? /** @type {[number, number]} */ ([FLOOR, low]) : null
})()

/**
 * A TCP port that was free on `host` a moment ago: a random one in `range` that binds, or, when
 * there is no range (or none of 50 picks binds), one the OS picks (listen on port 0).
 * @param {string} [host]
 * @param {{ range?: [number, number] | null }} [options] `range`: [first, end) to pick from.
 *   Default: [10000, the low end of the ephemeral range), null where that cannot be read.
 * @returns {Promise<number>}
 */
export async function freePort (host = '127.0.0.1', { range = BELOW_EPHEMERAL } = {}) {
  if (range !== null) {
    const [first, end] = range
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const port = await bindAndRelease(first + randomInt(end - first), host)
      if (port !== null) return port
    }
  }
  const port = await bindAndRelease(0, host)
  if (port === null) throw new Error(`no free port on ${host}`)
  return port
}

/**
 * `count` consecutive TCP ports that were all free on `host` a moment ago, for a recipe that gives
 * each process of a host the next port (example-app/cluster.mjs). Tries starting points from
 * `freePort` until a run of `count` binds.
 * @param {number} count
 * @param {string} [host]
 * @returns {Promise<number>} the first port of the run
 */
export async function freePortRange (count, host = '127.0.0.1') {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const base = await freePort(host)
    if (base + count > 65535) continue
    let port = base + 1
    while (port < base + count && await bindAndRelease(port, host) !== null) port++
    if (port === base + count) return base
    // One of the run was taken: try another starting point.
  }
  throw new Error(`no run of ${count} free ports found on ${host}`)
}

/**
 * Listens on `port` (0: the OS picks), closes at once, and returns the port bound, or null when it
 * is taken (EADDRINUSE) or reserved (EACCES). Any other error (a bad host) is thrown.
 * @param {number} port
 * @param {string} host
 * @returns {Promise<number | null>}
 */
async function bindAndRelease (port, host) {
  const server = createServer()
  server.listen(port, host)
  try {
    await once(server, 'listening') // rejects on 'error'
  } catch (error) {
    if (error?.code === 'EADDRINUSE' || error?.code === 'EACCES') return null
    throw error
  }
  const bound = /** @type {import('node:net').AddressInfo} */ (server.address()).port
  server.close()
  await once(server, 'close')
  return bound
}
