/**
 * httpchk plugin: the health probe at the server's front door, the optional agent-check and
 * liveness check, and the drain, all reading one readiness state. This file only wires them:
 * probe.ts, readiness.ts, drain.ts, agent.ts. See docs/readiness.md and docs/haproxy.md.
 */
import type { FastifyInstance } from 'fastify'
import cluster from 'node:cluster'
import fp from 'fastify-plugin'
import { ConnectionTracker } from '../../lib/httpchk/connection-tracker.js'
import { AlreadyRegisteredError, InvalidOptionError, SharedPortError, UncoveredServerError } from '../../lib/errors.js'
import { ServerStateTable } from '../../lib/haproxy/server-state.js'
import { createProbeResponder } from '../../lib/httpchk/answer.js'
import { createProbeMatcher } from '../../lib/httpchk/matcher.js'
import { setUpAgent } from './agent.js'
import type { BackpressureControl } from './decorators.js'
import { setUpDrain } from './drain.js'
import { normalizeHttpchkOptions, type HttpchkPluginOptions } from './options.js'
import { installProbeDoors } from './probe.js'
import { setUpReadiness } from './readiness.js'
import './decorators.js'

export type { HttpchkPluginOptions, HttpchkAgentOptions, HttpchkDrainOptions } from './options.js'
export type { BackpressureControl, ProbeState } from './decorators.js'
export type { HaproxyServerState } from '../../lib/haproxy/server-state.js'

export const HTTPCHK_PLUGIN_NAME = 'fastify-backpressure-httpchk'

async function httpchkPlugin (fastify: FastifyInstance, rawOptions: HttpchkPluginOptions): Promise<void> {
  const options = normalizeHttpchkOptions(rawOptions)
  const { methods, url, livenessUrl, agent } = options
  if (cluster.isWorker && !options.ownPort) throw new SharedPortError()

  let watched = false
  const onWatched = (): void => { watched = true }

  const readiness = setUpReadiness(fastify, options)
  const serverStates = new ServerStateTable()
  // HTTP/2 connections are sessions (closed with GOAWAY); HTTPS parses HTTP/1 from the TLS socket.
  const http2 = fastify.initialConfig.http2 === true
  const tracker = new ConnectionTracker({ http2, tls: !http2 && 'setSecureContext' in fastify.server })
  // A failing check's error text (it may name hosts and addresses) only goes where `allow` limits who reads it.
  const showErrors = options.allow !== undefined
  const responder = createProbeResponder({
    unavailableStatusCode: options.unavailableStatusCode,
    retryAfter: options.retryAfter,
    verbose: options.verbose,
    details: () => ({
      reason: readiness.reason(),
      draining: readiness.draining,
      executors: readiness.snapshots(),
      ...(showErrors ? { checkErrors: readiness.checkErrors() } : {})
    })
  })
  const uninstallFrontDoor = installProbeDoors(fastify, {
    match: createProbeMatcher({ methods, url, livenessUrl, allow: options.allow }),
    responder,
    readiness,
    serverStates,
    tracker,
    onWatched
  })
  if (uninstallFrontDoor === undefined) {
    tracker.dispose()
    throw new AlreadyRegisteredError('httpchk')
  }

  // The probe is answered before routing, so a route on its method and path would never be reached.
  // OPTIONS routes stay reachable: CORS preflights pass to the app.
  fastify.addHook('onReady', function refuseShadowedRoutes (done) {
    for (const method of methods) {
      if (method !== 'OPTIONS' && method !== 'HEAD' && fastify.hasRoute({ method, url })) {
        done(new InvalidOptionError('httpchk.url', `a path no ${method} route uses (the probe answers ${method} ${url} before routing${shadowedBy(url)})`, JSON.stringify(url)))
        return
      }
    }
    if (livenessUrl !== undefined && fastify.hasRoute({ method: 'GET', url: livenessUrl })) {
      done(new InvalidOptionError('httpchk.liveness', `a path no GET route uses (the liveness check answers GET ${livenessUrl} before routing)`, JSON.stringify(livenessUrl)))
      return
    }
    done()
  })

  /** Names the option that made the route, when it is the metrics plugin's (found by its decorator). */
  function shadowedBy (path: string): string {
    const metrics = fastify.hasDecorator('backpressureMetrics') ? (fastify as unknown as { backpressureMetrics: { route: string | null } }).backpressureMetrics : undefined
    return metrics?.route === path ? `; "metrics.exposeRoute" serves GET ${path}: give one of "httpchk.url" and "metrics.exposeRoute" another path` : ''
  }

  // The door sees what the server emits as `request`. A `serverFactory` server that hands requests
  // to Fastify some other way would bypass it, and the probe would reach the app's routes and
  // hooks: refused rather than half-working.
  fastify.addHook('onReady', function refuseUncoveredServer (done) {
    if (fastify.server.listenerCount('request') === 0) {
      done(new UncoveredServerError())
      return
    }
    done()
  })

  const agentWiring = agent === undefined ? undefined : setUpAgent(fastify, agent, readiness, onWatched)
  const { drain } = setUpDrain(fastify, {
    readiness,
    tracker,
    graceMs: options.graceMs,
    deadlineMs: options.deadlineMs,
    drainOnClose: options.drainOnClose,
    signals: options.signals,
    watched: () => watched
  })

  fastify.addHook('onClose', async function removeFrontDoor () {
    uninstallFrontDoor()
  })

  const control: BackpressureControl = {
    probeState: () => readiness.state(),
    probeReason: () => readiness.reason(),
    setNotReady (reason: string) { readiness.setNotReady(String(reason)) },
    setReady () { readiness.setReady() },
    get draining () { return readiness.draining },
    drain,
    get agentPort () { return agentWiring?.port ?? null },
    serverStates: () => serverStates.list(),
    serverState: (node: string) => serverStates.get(node)
  }
  fastify.decorate('backpressure', control)
}

export default fp(httpchkPlugin, {
  fastify: '5.x',
  name: HTTPCHK_PLUGIN_NAME
})
