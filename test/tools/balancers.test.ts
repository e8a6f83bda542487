// tools/balancers.mjs without the balancers: reading the documented blocks, moving their ports and
// paths (and refusing a block that no longer names them), and parsing Apache's and Varnish's views.
// The balancers themselves run in test/e2e/nginx|apache|varnish.test.ts and test/docs/.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { BALANCERS, DOC_PORTS, balancerForLang, docBlock, parseBackendList, parseBalancerManager, substitute, type BalancerKind } from '../../tools/balancers.mjs'

const TARGET = { listen: 18080, upstreams: [13000, 13002], dir: '/tmp/scratch' }

t.test('each documented block is found by its title and moved: ports and paths, nothing documented left', async (t) => {
  for (const kind of Object.keys(BALANCERS) as BalancerKind[]) {
    const text = await docBlock(kind)
    const moved = substitute(kind, text, TARGET)
    for (const port of [...DOC_PORTS.upstreams, ...(BALANCERS[kind].listenInFile ? [DOC_PORTS.listen] : [])]) {
      t.notMatch(moved, new RegExp(`(:|")${port}\\b`), `${kind}: port ${port} moved`)
    }
    t.match(moved, kind === 'varnish' ? /\.port = "13000";[\s\S]*\.port = "13002";/ : /127\.0\.0\.1:13000[\s\S]*127\.0\.0\.1:13002/, `${kind}: app1 and app2 in order`)
    for (const [from] of BALANCERS[kind].paths) t.notOk(moved.includes(from), `${kind}: ${from} moved into the scratch folder`)
    t.equal(balancerForLang(BALANCERS[kind].lang), kind)
  }
  t.match(substitute('nginx', await docBlock('nginx'), TARGET), /pid \/tmp\/scratch\/nginx\.pid;[\s\S]*error_log \/tmp\/scratch\/error\.log/)
  t.match(substitute('apache', await docBlock('apache'), TARGET), /PidFile \/tmp\/scratch\/httpd\.pid/)
  t.equal(balancerForLang('js'), undefined)
})

t.test('new ports that equal documented ones are not moved twice', async (t) => {
  const text = 'listen 127.0.0.1:8080;\nserver 127.0.0.1:3000;\nserver 127.0.0.1:3002;\npid /run/nginx.pid;\nerror_log /var/log/nginx/e.log;\n'
  t.equal(substitute('nginx', text, { listen: 3000, upstreams: [3002, 8080], dir: '/d' }),
    'listen 127.0.0.1:3000;\nserver 127.0.0.1:3002;\nserver 127.0.0.1:8080;\npid /d/nginx.pid;\nerror_log /d/e.log;\n')
})

t.test('a block that no longer names a documented port or path, or a wrong count, is refused', async (t) => {
  t.throws(() => substitute('nginx', 'server 127.0.0.1:3000;', TARGET), /no longer names port 8080/)
  t.throws(() => substitute('nginx', 'listen 127.0.0.1:8080; server 127.0.0.1:3000;', TARGET), /no longer names port 3002/)
  t.throws(() => substitute('varnish', '.port = "3000";', TARGET), /no longer names port 3002/)
  t.throws(() => substitute('apache', 'Listen 127.0.0.1:8080\n127.0.0.1:3000 127.0.0.1:3002', TARGET), /no longer names path \/run\/apache2/)
  t.throws(() => substitute('nginx', '', { ...TARGET, upstreams: [1] }), /2 ports/)
  t.throws(() => substitute('haproxy' as BalancerKind, '', TARGET), /unknown balancer haproxy/)
})

t.test('docBlock: exactly one block with the title, fenced in its language', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'balancers-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const page = join(dir, 'page.md')
  await writeFile(page, '# x\n\n- a list\n\n  ```vcl title="default.vcl"\n  vcl 4.1;\n  ```\n')
  t.equal(await docBlock('varnish', page), 'vcl 4.1;\n', 'found nested in a list')
  await t.rejects(docBlock('nginx', page), /expected one block titled nginx\.conf, found 0/)
  await writeFile(page, '```js title="nginx.conf"\nx\n```\n')
  await t.rejects(docBlock('nginx', page), /not fenced as nginx/)
})

t.test('the balancers\' views are parsed', async (t) => {
  const html = '<table><tr><th>Worker URL</th></tr>\n<tr>\n<td><a href="/balancer-manager?b=app&amp;w=http://127.0.0.1:1&amp;nonce=x">http://127.0.0.1:1</a></td><td></td><td></td><td>1.00</td><td>0</td><td>Init HcFl </td><td>0</td></tr>\n' +
    '<tr>\n<td><a href="/balancer-manager?b=app&amp;w=http://127.0.0.1:2&amp;nonce=x">http://127.0.0.1:2</a></td><td></td><td></td><td>1.00</td><td>0</td><td>Init Ok </td><td>0</td></tr></table>'
  t.same(parseBalancerManager(html), [{ url: 'http://127.0.0.1:1', status: 'Init HcFl' }, { url: 'http://127.0.0.1:2', status: 'Init Ok' }])
  const list = [
    'Backend name   Admin    Probe    Health    Last change',
    'boot.app1      probe    0/1      sick      Wed, 02 Dec 2026 17:32:09 GMT',
    ' Current states  good:  0 threshold:  1 window:  1',
    '  Oldest ================================================== Newest',
    '  -----------------------------------------------------------44444 Good IPv4',
    '  -----------------------------------------------------------XXXXX Good Xmit',
    '  -----------------------------------------------------------RRRRR Good Recv',
    '  -----------------------------------------------------------HHH-- Happy',
    'boot.app2      probe    0/1      sick      Wed, 02 Dec 2026 17:32:09 GMT',
    '  -----------------------------------------------------------44444 Good IPv4',
    '  -----------------------------------------------------------RRRR- Good Recv',
    '  -----------------------------------------------------------HHHH- Happy',
    'boot.app3      probe    1/1      healthy   Wed, 02 Dec 2026 17:32:09 GMT',
    ''
  ].join('\n')
  t.same(parseBackendList(list), [
    { name: 'app1', admin: 'probe', probe: '0/1', health: 'sick', lastAnswered: true, lastHappy: false },
    { name: 'app2', admin: 'probe', probe: '0/1', health: 'sick', lastAnswered: false, lastHappy: false },
    { name: 'app3', admin: 'probe', probe: '1/1', health: 'healthy', lastAnswered: undefined, lastHappy: undefined }
  ])
})
