// Free TCP ports on loopback, for programs whose address must be known before they start: HAProxy
// cannot bind port 0 and its config names every server's port, so the demo and the e2e tests pick
// ports first. (Anything Node listens on itself should listen on port 0 instead.)
import { createServer } from 'node:net'
import { once } from 'node:events'

/**
 * A TCP port that was free on `host` a moment ago: the OS picks it (listen on port 0), we close.
 * @param {string} [host]
 * @returns {Promise<number>}
 */
export async function freePort (host = '127.0.0.1') {
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
 * each process of a host the next port (example-app/cluster.mjs). Tries OS-picked starting points
 * until a run of `count` binds.
 * @param {number} count
 * @param {string} [host]
 * @returns {Promise<number>} the first port of the run
 */
export async function freePortRange (count, host = '127.0.0.1') {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort(host)
    if (base + count > 65535) continue
    const servers = []
    try {
      for (let port = base; port < base + count; port++) {
        const server = createServer()
        servers.push(server)
        server.listen(port, host)
        await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => { throw error })])
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
