/**
 * The agent-check responder's wiring: a TCP listener (lib/haproxy/agent-server.ts) that answers each
 * connection with one line computed from the readiness state and every executor's load
 * (lib/haproxy/agent-reply.ts). Listens when the app is ready, closes with the app.
 */
import type { FastifyInstance } from 'fastify'
import { AgentServer } from '../../lib/haproxy/agent-server.js'
import { agentReply } from '../../lib/haproxy/agent-reply.js'
import { AgentListenFailedError } from '../../lib/errors.js'
import { describeValue } from '../../lib/options.js'
import type { Readiness } from '../../lib/httpchk/readiness.js'
import type { NormalizedAgentOptions } from './options.js'

/** Listen errors that are about the address rather than the port. */
const HOST_ERRORS: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'EAI_NONAME', 'EAFNOSUPPORT'])

export interface AgentWiring {
  readonly port: number | null
}

export function setUpAgent (fastify: FastifyInstance, agent: NormalizedAgentOptions, readiness: Readiness, onWatched: () => void): AgentWiring {
  const log = fastify.log
  const replyOptions = { maxQueue: agent.maxQueue, minWeight: agent.minWeight }
  let server: AgentServer | undefined = new AgentServer({
    host: agent.host,
    port: agent.port,
    timeoutMs: agent.timeoutMs,
    // An empty line: HAProxy logs an agent error and leaves the server as it is, and the HTTP
    // check keeps deciding (configuration.txt §5.2 "agent-check").
    fallback: '',
    reply () {
      onWatched()
      const state = readiness.state()
      return agentReply(state, readiness.reason(), readiness.load(), replyOptions)
    },
    onReplyError (error) { log.error({ err: error }, 'the agent-check reply failed') }
  })
  const listening = server

  fastify.addHook('onReady', async function listenAgent () {
    let port: number
    try {
      port = await listening.listen()
    } catch (error) {
      const [option, value] = HOST_ERRORS.has(String((error as NodeJS.ErrnoException).code)) ? ['httpchk.agent.host', agent.host] : ['httpchk.agent.port', agent.port]
      throw new AgentListenFailedError(option, describeValue(value), (error as Error).message, { cause: error })
    }
    log.info({ host: agent.host, port }, 'HAProxy agent-check listening')
  })

  fastify.addHook('onClose', async function closeAgent () {
    const closing = server
    server = undefined
    await closing?.close()
  })

  return {
    get port () { return server?.port ?? null }
  }
}
