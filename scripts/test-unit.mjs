// `npm run test:unit`, the quick loop: every `*.test.ts` under test/lib/ and test/plugins/ (every
// subfolder, found on each run, so a new folder needs no edit here) plus test/index.test.ts, under
// Node's own runner with tsx.
//
// A tap test file run outside tap's own runner guards itself with TAP_TIMEOUT (30 s by default),
// which a loaded 2-core machine exceeds: the loop sets the same 600 s hang guard `npm test` gives
// tap. It is a guard against a hang, never a timing bound.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const FOLDERS = ['test/lib', 'test/plugins']

const files = ['test/index.test.ts']
for (const folder of FOLDERS) {
  for (const entry of readdirSync(folder, { recursive: true })) {
    if (String(entry).endsWith('.test.ts')) files.push(join(folder, String(entry)))
  }
}

const child = spawn(process.execPath, [
  '--test', '--test-concurrency=4',
  '--import', 'tsx', '--import', './test/helpers/process-guards.ts',
  ...files.sort()
], { stdio: 'inherit', env: { ...process.env, TEST_UNIT_LOOP: '1', TAP_TIMEOUT: '600' } })
child.on('exit', (code, signal) => { process.exitCode = code ?? 1 })
