import { EventEmitter } from 'node:events'
import t from 'tap'
import { installFrontDoor } from '../../../lib/probe/front-door.js'

t.test('answers what it matches, passes the rest to every listener in order, once per server, uninstalls', async (t) => {
  const server = new EventEmitter()
  const seen: string[] = []
  server.on('request', (request: string) => { seen.push(`first ${request}`) })
  server.on('request', (request: string) => { seen.push(`second ${request}`) })
  const uninstall = installFrontDoor(server, (request) => request === 'probe')
  t.ok(uninstall)
  t.equal(installFrontDoor(server, () => false), undefined, 'one door per server')
  server.emit('request', 'probe', {})
  server.emit('request', 'page', {})
  t.same(seen, ['first page', 'second page'])
  uninstall?.()
  server.emit('request', 'probe', {})
  t.same(seen.slice(2), ['first probe', 'second probe'], 'the listeners are back')
  t.ok(installFrontDoor(server, () => false), 'a door can be installed again')
})
