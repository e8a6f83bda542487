// tools/system.mjs: how tests, the demo and npm test find haproxy and chromium, and what they do when one is missing.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { CHROMIUM, HAPROXY, chromiumPath, findProgram, haproxyPath, missingMessage, programPath, skipUnlessInstalled, type SystemProgram } from '../../tools/system.mjs'

const absent: SystemProgram = { program: 'fastify-backpressure-no-such-program', debianPackage: 'no-such-package', envVar: 'NO_SUCH_PROGRAM_PATH' }

// Installed by `npm test` (and .ci/run) first; `npm run test:unit` may run where they are not.
t.test('haproxy is found (npm test installs it first)', skipUnlessInstalled(HAPROXY), async (t) => {
  t.match(haproxyPath(), /\/haproxy$/)
})

t.test('chromium is found (npm test installs it first)', skipUnlessInstalled(CHROMIUM), async (t) => {
  t.match(chromiumPath(), /\/chromium$/)
})

t.test('haproxy is found in /usr/sbin even when PATH lacks it', skipUnlessInstalled(HAPROXY), async (t) => {
  t.equal(findProgram(HAPROXY, { PATH: '/nonexistent' }), programPath(HAPROXY, { PATH: '/usr/sbin' }))
})

t.test('the environment variable wins, and must point at an executable', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'system-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const fake = join(dir, 'my-chromium')
  await writeFile(fake, '#!/bin/sh\n', { mode: 0o755 })
  t.equal(chromiumPath({ PATH: '', [CHROMIUM.envVar]: fake }), fake)
  const notExecutable = join(dir, 'plain-file')
  await writeFile(notExecutable, '', { mode: 0o644 })
  t.equal(findProgram(absent, { PATH: '', [absent.envVar]: notExecutable }), undefined, 'a non-executable file is not taken')
})

t.test('a missing program throws a clear error with the install command', async (t) => {
  t.throws(() => programPath(absent, { PATH: '' }), {
    message: /fastify-backpressure-no-such-program not found.*sudo apt-get install -y no-such-package.*NO_SUCH_PROGRAM_PATH/
  })
  t.equal(missingMessage(absent).includes('$NO_SUCH_PROGRAM_PATH'), true)
})

t.test('missing: skipped locally, never under CI=true', async (t) => {
  t.same(skipUnlessInstalled(absent, { PATH: '' }), { skip: missingMessage(absent) })
  t.same(skipUnlessInstalled(absent, { PATH: '', CI: 'true' }), {}, 'under CI the test runs, and fails on the thrown error')
  t.same(skipUnlessInstalled(absent, { PATH: '', CI: '1' }), {})
  const installed: SystemProgram = { program: 'node', debianPackage: 'nodejs', envVar: 'NO_SUCH_NODE_PATH' }
  t.same(skipUnlessInstalled(installed, { PATH: dirname(process.execPath) }), {}, 'an installed program is not skipped')
})
