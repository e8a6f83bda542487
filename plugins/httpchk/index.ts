/**
 * httpchk plugin: answers HAProxy's health probe (default `OPTIONS /`, as `option httpchk` sends it)
 * from a global `onRequest` hook, before the app's routes, route hooks, body parser or pool see it;
 * optionally answers HAProxy's `agent-check` on a TCP port; and drains before the app closes.
 *
 * Register the suite first: `onRequest` hooks run in registration order, so a hook added before
 * this plugin (auth, rate limit, CORS) would see the probe first.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import type { OutgoingHttpHeaders } from 'node:http'
import { AgentServer } from '../../lib/agent-server.js'
import { agentReply } from '../../lib/agent-reply.js'
import { ServerStateTable } from '../../lib/haproxy-server-state.js'
import { POOL_PLUGIN_NAME } from '../pool/index.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { normalizeHttpchkOptions, type HttpchkPluginOptions } from './options.js'
import type { BackpressureControl, ProbeState } from './decorators.js'
import './decorators.js'

export type { HttpchkPluginOptions, HttpchkAgentOptions, HttpchkDrainOptions, HttpchkHaproxyOptions } from './options.js'
export type { BackpressureControl, ProbeState } from './decorators.js'
export type { HaproxyServerState } from '../../lib/haproxy-server-state.js'

export const HTTPCHK_PLUGIN_NAME = 'fastify-backpressure-httpchk'

const STATES: readonly ProbeState[] = ['free', 'busy', 'draining', 'down']
const SERVER_STATE_HEADER = 'x-haproxy-server-state'

async function httpchkPlugin (fastify: FastifyInstance, rawOptions: HttpchkPluginOptions): Promise<void> {
  const {
    methods, url, busyStatusCode, retryAfter, verbose, underPressure, maxServerStateNodes, graceMs, signals, agent
  } = normalizeHttpchkOptions(rawOptions)
  const pool = fastify.pool
  const log = fastify.log
  /** @fastify/under-pressure's check, found once every plugin is loaded (see `findUnderPressure`). */
  let isUnderPressure: (() => boolean) | undefined
  const serverStates = new ServerStateTable(maxServerStateNodes)
  // Contract 1: `down` is true while the pool closes or once its threads cannot start.
  const poolIsDown = (): boolean => pool.down
  const capacity = pool.piscina.maxThreads * pool.piscina.options.concurrentTasksPerWorker
  const replyOptions = agent === undefined ? undefined : { capacity, queue: agent.queue ?? capacity, minWeight: agent.minWeight }

  // Non-verbose answers are constant: built once, written as is.
  const answers = new Map<ProbeState, { status: number, headers: OutgoingHttpHeaders, body: string }>()
  for (const state of STATES) answers.set(state, buildAnswer(state, `${state}\n`, 'text/plain; charset=utf-8'))

  let draining = false
  /** A probe or agent check has been answered: someone is watching, so the grace period matters. */
  let watched = false
  let closeStarted = false
  let graceWait: Promise<void> | undefined
  let endGrace: (() => void) | undefined
  let graceTimer: NodeJS.Timeout | undefined
  let drainPromise: Promise<void> | undefined
  let agentServer: AgentServer | undefined
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => { resolveClosed = resolve })

  function buildAnswer (state: ProbeState, body: string, contentType: string): { status: number, headers: OutgoingHttpHeaders, body: string } {
    const headers: OutgoingHttpHeaders = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store'
    }
    if (state !== 'free' && retryAfter > 0) headers['retry-after'] = String(retryAfter)
    return { status: state === 'free' ? 200 : busyStatusCode, headers, body }
  }

  function probeState (): ProbeState {
    if (poolIsDown()) return 'down'
    if (draining) return 'draining'
    if (pool.busy || isUnderPressure?.() === true) return 'busy'
    return 'free'
  }

  function isProbe (request: FastifyRequest): boolean {
    const raw = request.raw
    if (!methods.has(raw.method as string)) return false
    const target = raw.url as string
    const query = target.indexOf('?')
    if ((query === -1 ? target : target.slice(0, query)) !== url) return false
    // A CORS preflight belongs to the app (Fetch standard §3.2.2), even on the probe's path.
    return !(raw.method === 'OPTIONS' && raw.headers['access-control-request-method'] !== undefined)
  }

  /**
   * Answers in the same tick, on the raw response: a client that half-closes after its request
   * loses any answer written later (shared/reference/haproxy.md), and hijacking keeps the app's
   * onSend hooks, serializers and onResponse hooks away from the probe.
   */
  function onRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (!isProbe(request)) {
      done()
      return
    }
    watched = true
    const header = request.headers[SERVER_STATE_HEADER]
    if (typeof header === 'string') serverStates.record(header)
    const state = probeState()
    const answer = verbose
      ? buildAnswer(state, JSON.stringify({ state, draining, pool: pool.snapshot() }), 'application/json; charset=utf-8')
      : answers.get(state) as { status: number, headers: OutgoingHttpHeaders, body: string }
    reply.hijack()
    const response = reply.raw
    response.writeHead(answer.status, answer.headers)
    response.end(request.raw.method === 'HEAD' ? undefined : answer.body)
  }

  function startDraining (): void {
    if (draining) return
    draining = true
    log.info({ graceMs: watched ? graceMs : 0, pool: pool.snapshot() }, 'draining: the probe and the agent now report draining')
  }

  /**
   * Keeps serving for `graceMs`, long enough for HAProxy to see `fall` failed checks. Skipped when
   * nothing can be watching: the server does not listen, or no probe/agent check ever came.
   */
  function waitForGrace (): Promise<void> {
    if (graceWait !== undefined) return graceWait
    if (graceMs === 0 || !watched || !fastify.server.listening) {
      graceWait = Promise.resolve()
      return graceWait
    }
    graceWait = new Promise((resolve) => {
      endGrace = () => {
        clearTimeout(graceTimer)
        endGrace = undefined
        resolve()
      }
      graceTimer = setTimeout(endGrace, graceMs)
      // The listening server keeps the process alive during the grace; the timer need not.
      graceTimer.unref()
    })
    return graceWait
  }

  function drain (): Promise<void> {
    drainPromise ??= (async () => {
      startDraining()
      await waitForGrace()
      // Fastify answers 503 to every request once close() starts (`return503OnClosing`), so the
      // grace is served before close(), while the app is fully open.
      if (closeStarted) await closed
      else await fastify.close()
    })()
    return drainPromise
  }

  function onSignal (signal: NodeJS.Signals): void {
    if (drainPromise !== undefined) {
      // A second signal: stop waiting, close now.
      log.info({ signal }, 'second signal while draining: closing without waiting for the grace period')
      endGrace?.()
      return
    }
    log.info({ signal }, 'signal received: draining before close')
    drain().catch((error: unknown) => { log.error({ err: error }, 'closing after the drain failed') })
  }

  const control: BackpressureControl = {
    get draining () { return draining },
    drain,
    probeState,
    get agentPort () { return agentServer?.port ?? null },
    serverStates: () => serverStates.list(),
    serverState: (node: string) => serverStates.get(node)
  }
  fastify.decorate('backpressure', control)
  fastify.addHook('onRequest', onRequest)

  /**
   * While draining, every answer asks the client to close its connection. Fastify closes idle
   * keep-alive connections once, when close() starts; one that was busy then and goes idle later
   * would hold the close until `keepAliveTimeout` (72 s in Fastify 5). HAProxy reopens elsewhere.
   */
  fastify.addHook('onSend', function closeConnectionsWhileDraining (_request, reply, payload, done) {
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })

  // Fastify sets its `closing` flag before preClose hooks run, and from then on answers 503 to every
  // request itself (unless the app sets `return503OnClosing: false`); the server still accepts
  // connections until preClose hooks are done. Draining here tells the balancer at once.
  fastify.addHook('preClose', async function drainBeforeClose () {
    closeStarted = true
    startDraining()
    await waitForGrace()
  })

  // preClose has waited out the grace, so no timer is left to clear here.
  fastify.addHook('onClose', async function onClose () {
    for (const signal of signals) process.off(signal, onSignal)
    if (agentServer !== undefined) {
      const server = agentServer
      agentServer = undefined
      await server.close()
    }
    resolveClosed()
  })

  if (underPressure) {
    // Looked up when the app is ready rather than now, so that @fastify/under-pressure can be
    // registered after this plugin: its own onRequest hook then runs after the probe's, and the
    // probe answers with its own status code instead of under-pressure's 503.
    fastify.addHook('onReady', function findUnderPressure (done) {
      if (!fastify.hasDecorator('isUnderPressure')) {
        done(new InvalidOptionError('httpchk.underPressure', 'false unless @fastify/under-pressure is registered in the same app', 'true'))
        return
      }
      isUnderPressure = (fastify as unknown as { isUnderPressure: () => boolean }).isUnderPressure
      done()
    })
  }

  if (replyOptions !== undefined && agent !== undefined) {
    const options = replyOptions
    agentServer = new AgentServer({
      host: agent.host,
      port: agent.port,
      timeoutMs: agent.timeoutMs,
      maxConnections: agent.maxConnections,
      // An empty line: HAProxy logs an agent error and leaves the server as it is, and the HTTP
      // check keeps deciding (configuration.txt §5.2 "agent-check").
      fallback: '',
      reply () {
        watched = true
        return agentReply(pool.snapshot(), { draining, down: poolIsDown() }, options)
      },
      onReplyError (error) { log.error({ err: error }, 'the agent-check reply failed') }
    })
    const server = agentServer
    fastify.addHook('onReady', async function listenAgent () {
      const port = await server.listen()
      log.info({ host: agent.host, port }, 'HAProxy agent-check listening')
    })
  }

  if (signals.length > 0) {
    // Added once the app is ready, so a registration that fails leaves no handler behind.
    fastify.addHook('onReady', function listenForSignals (done) {
      for (const signal of signals) process.on(signal, onSignal)
      done()
    })
  }
}

export default fp(httpchkPlugin, {
  fastify: '5.x',
  name: HTTPCHK_PLUGIN_NAME,
  dependencies: [POOL_PLUGIN_NAME]
})
