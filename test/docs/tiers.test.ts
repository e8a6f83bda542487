// The test tiers cannot leave a test out: every folder (and top-level file) of test/ belongs to
// exactly one tier of scripts/test.mjs, or holds no tests (helpers, fixtures); every test file is in
// a tier that runs it; the npm scripts run the tiers by name; and docs/testing.md's table of tiers
// says what the map says.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { SUPPORT, TIERS } from '../../scripts/test.mjs'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Every file under `folder`, relative to the repository. */
function filesUnder (folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)))
}

const owners = (path: string): string[] => [
  ...Object.entries(TIERS).filter(([, tier]) => tier.paths.includes(path)).map(([name]) => name),
  ...(SUPPORT.includes(path) ? ['(support)'] : [])
]

t.test('every folder and file of test/ is in exactly one tier, or holds no tests', async (t) => {
  const top = readdirSync(join(ROOT, 'test')).map((name) => `test/${name}`)
  for (const path of top) t.same(owners(path).length, 1, `${path}: ${owners(path).join(', ') || 'in no tier'}`)
  const named = [...Object.values(TIERS).flatMap((tier) => tier.paths), ...SUPPORT]
  t.same(named.filter((path) => !top.includes(path)), [], 'every path the map names is a folder or file directly under test/')
  t.equal(new Set(named).size, named.length, 'no path named twice')
})

t.test('every test file is in a tier that runs it', async (t) => {
  const tapPaths = Object.values(TIERS).filter((tier) => tier.run === 'tap').flatMap((tier) => tier.paths)
  const runBy = (file: string): boolean => tapPaths.some((path) => file === path || file.startsWith(`${path}/`))
  const tests = filesUnder('test').filter((file) => /\.test\.(ts|mts|cts|js|mjs|cjs)$/.test(file))
  t.ok(tests.length > 60, `${tests.length} test files`)
  t.same(tests.filter((file) => !runBy(file)), [], 'no *.test.* file where no tier runs it (test/types holds *.test-d.ts, checked by tsc)')
  t.same(filesUnder('test/types').filter((file) => !file.endsWith('.test-d.ts')), [], 'test/types holds type tests only')
})

t.test('the npm scripts run the tiers by name; npm test runs lint, typecheck, build and every tier', async (t) => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  for (const [name, tier] of Object.entries(TIERS)) {
    const script = tier.run === 'tsc' ? name : `test:${name}`
    t.match(scripts[script], new RegExp(`(^|&& )node scripts/test\\.mjs ${name}$`), `npm run ${script}`)
  }
  t.equal(scripts.test, 'node scripts/ensure-system-deps.mjs && npm run lint && npm run typecheck && npm run build && node scripts/test.mjs all')
  t.equal(scripts.lint, 'eslint --max-warnings 0 .')
})

t.test("docs/testing.md's table of tiers is the map", async (t) => {
  const markdown = readFileSync(join(ROOT, 'docs/testing.md'), 'utf8')
  for (const [name, tier] of Object.entries(TIERS)) {
    const row = markdown.split('\n').find((line) => line.startsWith(`| ${name} |`))
    if (row === undefined) {
      t.fail(`docs/testing.md has no row for the ${name} tier`)
      continue
    }
    const [, command = '', folders = ''] = row.split('|').slice(1).map((cell) => cell.trim())
    t.equal(command, `\`npm run ${tier.run === 'tsc' ? name : `test:${name}`}\``, `${name}: the command`)
    const listed = [...folders.matchAll(/`([^`]+)`/g)].map(([, path]) => (path as string).replace(/\/$/, ''))
    t.same(listed.sort(), [...tier.paths].sort(), `${name}: the folders`)
  }
})
