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
/** Random picks tried before falling back to an OS-picked port. */
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

/** [10000, the ephemeral range's low end), or null where there is no such range. */
function belowEphemeral () {
  const low = ephemeralLow()
  return low !== null && low > FLOOR ? [FLOOR, low] : null
}

/**
 * A TCP port that was free on `host` a moment ago: a random one in `range` that binds, or, when
 * there is no range (or none of 50 picks binds), one the OS picks (listen on port 0).
 * @param {string} [host]
 * @param {{ range?: [number, number] | null }} [options] `range`: [first, end) to pick from.
 *   Default: [10000, the low end of the ephemeral range), null where that cannot be read.
 * @returns {Promise<number>}
 */
export async function freePort (host = '127.0.0.1', { range = belowEphemeral() } = {}) {
  if (range !== null) {
    const [first, end] = range
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const port = first + randomInt(end - first)
      if (await binds(port, host)) return port
    }
  }
  const server = createServer()
  server.listen(0, host)
  await once(server, 'listening')
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  server.close()
  await once(server, 'close')
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
    const servers = []
    try {
      for (let port = base; port < base + count; port++) {
        const server = createServer()
        servers.push(server)
        server.listen(port, host)
        await once(server, 'listening') // rejects on 'error' (EADDRINUSE)
      }
      return base
    } catch {
      // One of the run was taken: try another starting point.
    } finally {
      for (const server of servers) if (server.listening) server.close()
    }
  }
  throw new Error(`no run of ${count} free ports found on ${host}`)
}

/**
 * Whether `port` can be bound on `host` now (released again at once).
 * @param {number} port
 * @param {string} host
 */
async function binds (port, host) {
  const server = createServer()
  server.listen(port, host)
  try {
    await once(server, 'listening') // rejects on 'error' (EADDRINUSE)
  } catch {
    return false
  }
  server.close()
  await once(server, 'close')
  return true
}
