// PLACEHOLDER: replaced by the httpchk plugin implementation.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export interface HttpchkPluginOptions {
  method?: string | string[]
  url?: string
}

export const HTTPCHK_PLUGIN_NAME = 'fastify-backpressure-httpchk'

async function httpchkPlugin (_fastify: FastifyInstance, _options: HttpchkPluginOptions): Promise<void> {}

export default fp(httpchkPlugin, { fastify: '5.x', name: HTTPCHK_PLUGIN_NAME, dependencies: ['fastify-backpressure-pool'] })
