/**
 * The package as users get it, packed once per test run and shared by the tests that use it
 * (test/package, test/docs):
 *
 *   const packed = await packedPackage()           // { tarball, files } from `npm pack`
 *   const project = await scratchProject(t, packed) // a fresh `npm init -y` project with the tarball
 *                                                   // unpacked as node_modules/fastify-backpressure
 *
 * `npm pack --ignore-scripts` packs the dist/ that `npm test` built (it never rebuilds it). The
 * tarball is kept under .tmp/packed-<hash of package.json and dist/>, so a second test file of the
 * same run reuses it; a mkdir lock makes the other file wait (on fs.watch, not a sleep) instead of
 * packing twice. Scratch projects sit inside the repository, so the package's dependencies
 * (fastify, piscina, ...) resolve from the repository's node_modules: no network install.
 */
import { execFile, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, statSync, watch } from 'node:fs'
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TMP = join(ROOT, '.tmp')
const CHILD_TIMEOUT_MS = 120_000
/** A lock older than this was left by a run that died: take it over. */
const STALE_LOCK_MS = 180_000
/** Tarballs of other builds older than this are removed. */
const STALE_PACK_MS = 3_600_000

export interface Run { code: number | null, stdout: string, stderr: string }

/** Runs a program to completion; the child is killed by PID if it outlives its timeout. */
export async function run (file: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<Run> {
  let child: ChildProcess | undefined
  const result = await new Promise<Run>((resolve) => {
    child = execFile(file, args, { cwd, env, timeout: CHILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
      resolve({ code, stdout, stderr })
    })
  })
  // execFile's timeout kills a hung child; this makes sure nothing is left whatever happened.
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL')
  return result
}

export interface Packed {
  /** Absolute path of the .tgz. */
  tarball: string
  /** Paths inside the tarball, as `npm pack --json` lists them. */
  files: string[]
}

async function listFiles (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)).sort()
}

/** Identifies what would be packed: the manifest, README, LICENSE and every dist/ file's size and mtime. */
async function contentKey (): Promise<string> {
  const hash = createHash('sha256')
  for (const file of ['package.json', 'README.md', 'LICENSE']) {
    if (existsSync(join(ROOT, file))) hash.update(file).update(await readFile(join(ROOT, file)))
  }
  for (const file of await listFiles(join(ROOT, 'dist'))) {
    const { size, mtimeMs } = await stat(file)
    hash.update(`${relative(ROOT, file)} ${size} ${mtimeMs}\n`)
  }
  return hash.digest('hex').slice(0, 16)
}

/** Resolves once `path` exists, watching its parent folder; rejects after `timeoutMs`. */
async function waitForPath (path: string, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs)
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(TMP, { signal })
    const check = (): void => {
      if (existsSync(path)) { watcher.close(); resolve() }
    }
    watcher.on('change', check)
    watcher.on('error', (error) => { reject(error.name === 'AbortError' ? new Error(`${path} did not appear within ${timeoutMs} ms`) : error) })
    check()
  })
}

let memo: Promise<Packed> | undefined

/** The packed tarball of this run (packed by the first caller, reused by the others). */
export async function packedPackage (): Promise<Packed> {
  memo ??= pack()
  return await memo
}

async function pack (): Promise<Packed> {
  if (!existsSync(join(ROOT, 'dist/esm/index.js')) || !existsSync(join(ROOT, 'dist/cjs/main.js'))) {
    throw new Error('dist/ is missing or incomplete: run `npm run build` (npm test does it first)')
  }
  await mkdir(TMP, { recursive: true })
  const key = await contentKey()
  const done = join(TMP, `packed-${key}`)
  const manifest = join(done, 'pack.json')
  const lock = `${done}.lock`
  if (!existsSync(manifest)) {
    let locked = false
    try {
      await mkdir(lock)
      locked = true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      // The other packer may have finished (and removed its lock) in the meantime: then wait below.
      const lockedAt = existsSync(lock) ? statSync(lock, { throwIfNoEntry: false })?.mtimeMs : undefined
      if (lockedAt !== undefined && Date.now() - lockedAt > STALE_LOCK_MS) {
        await rm(lock, { recursive: true, force: true })
        await mkdir(lock)
        locked = true
      }
    }
    if (locked) {
      try {
        // Earlier runs' tarballs (other builds): removed once old enough that no run beside this one
        // (another `npm test` at the same time) can still be reading them.
        for (const entry of await readdir(TMP)) {
          const path = join(TMP, entry)
          if (/^pack(ed|ing)-/.test(entry) && !entry.startsWith(`packed-${key}`) && Date.now() - (await stat(path)).mtimeMs > STALE_PACK_MS) {
            await rm(path, { recursive: true, force: true })
          }
        }
        const work = await mkdtemp(join(TMP, 'packing-'))
        const output = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)
        if (output.code !== 0) throw new Error(`npm pack failed:\n${output.stdout}\n${output.stderr}`)
        const [result] = JSON.parse(output.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
        if (result === undefined) throw new Error(`npm pack printed no result: ${output.stdout}`)
        await writeFile(join(work, 'pack.json'), JSON.stringify({ filename: result.filename, files: result.files.map((f) => f.path) }))
        await rename(work, done)
      } finally {
        await rm(lock, { recursive: true, force: true })
      }
    } else {
      await waitForPath(manifest, CHILD_TIMEOUT_MS)
    }
  }
  const { filename, files } = JSON.parse(await readFile(manifest, 'utf8')) as { filename: string, files: string[] }
  return { tarball: join(done, filename), files }
}

export interface ScratchProject {
  /** The project folder (removed by the test's teardown). */
  dir: string
  /** node_modules/fastify-backpressure inside it. */
  installed: string
}

/**
 * A fresh project as a user makes one: `npm init -y` (which writes `"type": "commonjs"`), then the
 * tarball unpacked as node_modules/fastify-backpressure, as `npm install fastify-backpressure` would.
 * Without its own package.json, Node would resolve 'fastify-backpressure' to this repository itself
 * (a package may import its own name) and the test would not be testing the tarball.
 */
export async function scratchProject (t: { teardown: (fn: () => unknown) => void }, packed: Packed, prefix = 'scratch-'): Promise<ScratchProject> {
  await mkdir(TMP, { recursive: true })
  const dir = await mkdtemp(join(TMP, prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const init = await run('npm', ['init', '-y'], dir)
  if (init.code !== 0) throw new Error(`npm init -y failed:\n${init.stdout}\n${init.stderr}`)
  const installed = join(dir, 'node_modules', 'fastify-backpressure')
  await mkdir(installed, { recursive: true })
  const extract = await run('tar', ['-xzf', packed.tarball, '-C', installed, '--strip-components=1'], dir)
  if (extract.code !== 0) throw new Error(`tar -x failed:\n${extract.stderr}`)
  return { dir, installed }
}
