import { EventEmitter } from 'node:events'
import t from 'tap'
import { installFrontDoor } from '../../../lib/httpchk/front-door.js'

t.test('answers what it matches before any request listener, those added later included; passes the rest and every other event; once per server; uninstalls', async (t) => {
  const server = new EventEmitter()
  const seen: string[] = []
  server.on('request', (request: string) => { seen.push(`first ${request}`) })
  const uninstall = installFrontDoor(server, (request) => request === 'probe')
  t.ok(uninstall)
  t.equal(installFrontDoor(server, () => false), undefined, 'one door per server')
  server.on('request', (request: string) => { seen.push(`later ${request}`) })
  t.equal(server.emit('request', 'probe', {}), true, 'answered')
  server.emit('request', 'page', {})
  t.same(seen, ['first page', 'later page'], 'no listener saw the probe, not even one added after the door')
  const other: unknown[] = []
  server.on('connection', (...args: unknown[]) => { other.push(args) })
  server.emit('connection', 1, 2, 3)
  t.same(other, [[1, 2, 3]], 'other events pass with every argument')
  uninstall?.()
  t.notOk(Object.hasOwn(server, 'emit'), 'the server has its own emit back')
  server.emit('request', 'probe', {})
  t.same(seen.slice(2), ['first probe', 'later probe'], 'uninstalled: every listener sees it')
  t.ok(installFrontDoor(server, () => false), 'a door can be installed again')
})

t.test('keeps an emit the server already had of its own, and stands aside when wrapped again after it', async (t) => {
  const server = new EventEmitter()
  const wrapped: string[] = []
  const original = server.emit
  server.emit = function ownEmit (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    wrapped.push(String(event))
    return original.call(this, event, ...args)
  }
  const own = server.emit
  const uninstall = installFrontDoor(server, (request) => request === 'probe') as () => void
  server.emit('request', 'probe', {})
  server.emit('request', 'page', {})
  t.same(wrapped, ['request'], 'the probe never reached the earlier wrapper; the page did')
  uninstall()
  t.equal(server.emit, own, 'the earlier wrapper is back')

  const again = installFrontDoor(server, (request) => request === 'probe') as () => void
  const door = server.emit
  const outer = function outerEmit (this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean { return door.call(this, event, ...args) }
  server.emit = outer
  again()
  t.equal(server.emit, outer, 'a wrapper added after the door is left in place')
  const seen: string[] = []
  server.on('request', (request: string) => { seen.push(request) })
  server.emit('request', 'probe', {})
  t.same(seen, ['probe'], 'the door, still in the chain, lets everything through')
})
