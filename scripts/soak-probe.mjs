// Preloaded into the example app by scripts/soak.mjs (`node --import ./scripts/soak-probe.mjs ...`):
// answers the soak's IPC requests with the process's own memory and event-loop delay, so the soak
// reads heap and loop figures from inside the server without adding a route to the app.
import { monitorEventLoopDelay } from 'node:perf_hooks'

if (typeof process.send === 'function') {
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  process.on('message', function answerStats (message) {
    if (message?.type !== 'soak-stats') return
    // The soak starts the app with --expose-gc: a full collection first makes heapUsed the live
    // heap, comparable from one sample to the next (otherwise it moves with every GC cycle).
    globalThis.gc?.()
    const memory = process.memoryUsage()
    process.send({
      type: 'soak-stats',
      id: message.id,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 }
    })
    loop.reset()
  })
  // The IPC channel must not keep the app alive: SIGTERM still ends it as usual.
  process.channel?.unref()
}
