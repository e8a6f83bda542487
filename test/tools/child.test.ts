// tools/child.mjs: a child started, its ready line awaited, stopped by PID (SIGTERM, then SIGKILL).
import t from 'tap'
import { nodeEnv, startChild, stopAll } from '../../tools/child.mjs'

const node = (script: string): ReturnType<typeof startChild> => startChild(process.execPath, ['-e', script], { env: nodeEnv() })

t.test('nodeEnv drops the runner\'s loaders and coverage, keeps the rest, adds overrides', async (t) => {
  const before = { NODE_OPTIONS: process.env.NODE_OPTIONS, NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE }
  process.env.NODE_OPTIONS = '--import x'
  process.env.NODE_V8_COVERAGE = '/tmp/x'
  t.teardown(() => {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  })
  const env = nodeEnv({ EXTRA: '1' })
  t.equal(env.NODE_OPTIONS, undefined)
  t.equal(env.NODE_V8_COVERAGE, undefined)
  t.equal(env.EXTRA, '1')
  t.equal(env.PATH, process.env.PATH)
})

t.test('waitForLine resolves on the ready line, even one printed before the call', async (t) => {
  const child = node("console.log('starting'); console.log('READY {\"port\":1}'); setInterval(() => {}, 1000)")
  t.teardown(() => child.stop())
  const line = await child.waitForLine((candidate) => candidate.startsWith('READY '))
  t.equal(line, 'READY {"port":1}')
  t.equal(child.running, true)
  const again = await child.waitForLine((candidate) => candidate === 'starting')
  t.equal(again, 'starting', 'lines already printed are found')
  const exit = await child.stop()
  t.same(exit, { code: null, signal: 'SIGTERM' }, 'stopped by SIGTERM')
  t.equal(child.running, false)
  t.same(await child.stop(), exit, 'stop twice: the same exit')
})

t.test('waitForLine rejects with the output when the child exits first', async (t) => {
  const child = node("console.log('no ready line here'); console.error('oops'); process.exit(3)")
  t.teardown(() => child.stop())
  await t.rejects(child.waitForLine((line) => line.startsWith('READY ')), /exited \(code 3, signal null\)[^]*no ready line here[^]*--- stderr ---[^]*oops/)
  await t.rejects(child.waitForLine((line) => line.startsWith('READY ')), /exited \(code 3/, 'also when asked after the exit')
})

t.test('waitForLine rejects when the line does not come in time', async (t) => {
  const child = node("console.log('silent'); setInterval(() => {}, 1000)")
  t.teardown(() => child.stop())
  await child.waitForLine((line) => line === 'silent')
  await t.rejects(child.waitForLine((line) => line === 'never', { timeoutMs: 50 }), /printed no line awaited within 50 ms/)
})

t.test('a child that ignores SIGTERM is killed by PID after killAfterMs', async (t) => {
  const child = node("process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)")
  t.teardown(() => child.stop({ signal: 'SIGKILL' }))
  await child.waitForLine((line) => line === 'up')
  t.same(await child.stop({ killAfterMs: 100 }), { code: null, signal: 'SIGKILL' })
})

t.test('a program that cannot be spawned resolves its exit, never hangs', async (t) => {
  const child = startChild('/nonexistent/program', [])
  t.same(await child.exited, { code: null, signal: null })
  t.match(child.output(), /ENOENT/)
  t.same(await child.stop(), { code: null, signal: null })
  await t.rejects(child.waitForLine(() => true), /exited/)
})

t.test('stopAll stops every child still running', async (t) => {
  const children = [node('setInterval(() => {}, 1000)'), node('setInterval(() => {}, 1000)')]
  t.teardown(() => Promise.all(children.map((child) => child.stop())))
  await stopAll()
  t.same(children.map((child) => child.running), [false, false])
})
