import t from 'tap'
import { MAX_SERVER_STATE_NODES, MAX_SERVER_STATE_LENGTH, ServerStateTable, parseServerState } from '../../../lib/haproxy/server-state.js'

const NOW = 1_700_000_000_000

t.test('parses the headers HAProxy 2.6 sends', async (t) => {
  t.same(parseServerState('UP 1/2; address=127.0.0.1; port=43109; name=be_app/a; node=lb1; weight=100/200; scur=0/0; qcur=0', NOW), {
    node: 'lb1',
    name: 'be_app/a',
    state: 'UP',
    checks: { count: 1, of: 2 },
    weight: { server: 100, backend: 200 },
    scur: { server: 0, backend: 0 },
    qcur: 0,
    throttle: undefined,
    seenAt: NOW
  })
  const loaded = parseServerState('UP; address=127.0.0.1; port=3000; name=be_app/b; node=lb2; weight=100/300; scur=2/13; qcur=11; throttle=40%', NOW)
  t.match(loaded, { state: 'UP', checks: undefined, scur: { server: 2, backend: 13 }, qcur: 11, throttle: 40 })
  t.match(parseServerState('DOWN 3/2; name=be/a; node=lb1', NOW), { state: 'DOWN', checks: { count: 3, of: 2 } })
  t.match(parseServerState('NOLB; node=lb1', NOW), { state: 'NOLB' })
  t.match(parseServerState('NOLB 1/3; node=lb1', NOW), { state: 'NOLB', checks: { count: 1, of: 3 } })
  t.match(parseServerState('no check; node=lb1', NOW), { state: 'no check' })
  t.match(parseServerState('UP', NOW), { state: 'UP', node: '', name: undefined, weight: undefined, qcur: undefined })
  t.ok(Math.abs((parseServerState('UP')?.seenAt ?? 0) - Date.now()) < 1000, 'seenAt defaults to now')
})

t.test('garbage gives undefined or drops only the bad fields; it never throws', async (t) => {
  for (const header of ['', 'up', 'UP 1', 'UP x/2', 'UPPER; node=a', 'MAINT', ' ; node=a', 'x'.repeat(MAX_SERVER_STATE_LENGTH + 1), 'UP 1/2/3', '\u0000']) {
    t.equal(parseServerState(header, NOW), undefined, JSON.stringify(header.slice(0, 20)))
  }
  t.match(parseServerState('UP; weight=abc; scur=1; qcur=-1; throttle=101x%; node=a b; name=\u0001; =x; noequals', NOW), {
    state: 'UP', weight: undefined, scur: undefined, qcur: undefined, throttle: undefined, node: '', name: undefined
  })
})

t.test('ServerStateTable keeps the last state per node, bounded, least recent evicted first', async (t) => {
  const table = new ServerStateTable(2)
  t.equal(table.record('garbage'), undefined)
  t.equal(table.size, 0)
  table.record('UP; node=lb1; qcur=1', 1)
  table.record('UP; node=lb2; qcur=2', 2)
  table.record('DOWN 1/2; node=lb1; qcur=3', 3)
  t.equal(table.get('lb1')?.state, 'DOWN')
  t.equal(table.get('lb1')?.qcur, 3)
  t.same(table.list().map((s) => s.node), ['lb2', 'lb1'], 'lb1 was updated last')
  table.record('UP; node=lb3', 4)
  t.equal(table.size, 2)
  t.equal(table.get('lb2'), undefined, 'the least recently updated node went')
  t.same(table.list().map((s) => s.node), ['lb1', 'lb3'])
  for (let i = 0; i < 1000; i++) table.record(`UP; node=n${i}`)
  t.equal(table.size, 2, 'invented node names cannot grow memory')

  const plugin = new ServerStateTable()
  for (let i = 0; i < 100; i++) plugin.record(`UP; node=n${i}`)
  t.equal(plugin.size, MAX_SERVER_STATE_NODES, `the plugin's table keeps ${MAX_SERVER_STATE_NODES} nodes`)
})
