// docs/architecture.md's tree is the tree on disk: every file under lib/ and plugins/, and index.ts and options.ts,
// listed once, each under the folder it sits in, and nothing listed that is not there.
import { readFile, readdir } from 'node:fs/promises'
import t from 'tap'

const ROOT = new URL('../../', import.meta.url)

/** The paths the tree block names, folders resolved from indentation (two spaces a level). */
export function treePaths (markdown: string): string[] {
  const block = /## The tree\n[\s\S]*?```text\n([\s\S]*?)```/.exec(markdown)
  if (block === null) throw new Error('docs/architecture.md has no ```text block under "## The tree"')
  const folders: string[] = []
  const paths: string[] = []
  for (const line of (block[1] as string).split('\n')) {
    if (line.trim() === '') continue
    const depth = (line.length - line.trimStart().length) / 2
    const name = line.trim().split(/\s+/)[0] as string
    folders.length = depth
    if (name.endsWith('/')) folders.push(name.slice(0, -1))
    else paths.push([...folders, name].join('/'))
  }
  return paths
}

async function filesUnder (folder: string): Promise<string[]> {
  const entries = await readdir(new URL(folder, ROOT), { recursive: true, withFileTypes: true })
  return entries.filter((entry) => entry.isFile()).map((entry) => `${entry.parentPath.slice(new URL(ROOT).pathname.length)}/${entry.name}`)
}

t.test('the tree in docs/architecture.md is the tree on disk', async (t) => {
  const listed = treePaths(await readFile(new URL('docs/architecture.md', ROOT), 'utf8'))
  const onDisk = ['index.ts', 'options.ts', ...await filesUnder('lib'), ...await filesUnder('plugins')]
  t.same([...new Set(listed)].sort(), listed.slice().sort(), 'each file listed once')
  t.same(listed.slice().sort(), onDisk.sort())
})

t.test('the parser reads folders from indentation', async (t) => {
  t.same(treePaths('## The tree\n```text\na.ts  x\nb/\n  c/\n    d.ts  y\n  e.ts\nf.ts\n```\n'), ['a.ts', 'b/c/d.ts', 'b/e.ts', 'f.ts'])
  t.throws(() => treePaths('no tree'), /no ```text block/)
})
