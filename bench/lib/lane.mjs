// A lane as an app gets one: the lanes plugin in a Fastify app that never listens, so the bench
// measures what `app.lanes.<name>.run()` costs. `close()` closes the app (and the lane with it).
import Fastify from 'fastify'
import { lanesPlugin } from 'fastify-backpressure'

/** @param {Record<string, unknown>} options one lane's options (`{ concurrency, maxQueue, timeout }`) */
export async function startLane (options) {
  const app = Fastify()
  await app.register(lanesPlugin, { lanes: { bench: options } })
  await app.ready()
  return { lane: app.lanes.bench, close: () => app.close() }
}
