/**
 * Makes a worker function that throws `null` or `undefined` reject instead of resolve.
 *
 * Why: piscina 5.3's worker reports a task's outcome as `{ error, result }` and its main thread
 * resolves whenever `error === null` (piscina `src/index.ts`, the `TaskInfo` callback). A function
 * that does `throw null` therefore resolves `run()` with `null`, and an HTTP route answers 200. The
 * main thread cannot tell that apart from `return null`; only the worker can.
 *
 * How: tasks run through a small generated module per worker file and export name, which imports the
 * user's module and calls its function inside a try/catch that turns a thrown `null`/`undefined`
 * into an Error. The module is written once, on first use, into a temporary directory removed by
 * `dispose()`. It is generated, not imported from this package, because worker threads may run
 * without the loader the main thread uses (TypeScript tests start them with `execArgv: []`), and it
 * imports nothing but the user's file. The export is looked up as piscina does: the named export,
 * else for `default` the module itself when it is a function (CommonJS `module.exports = fn`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** The message a thrown `null`/`undefined` becomes (the original value is in the message). */
export const NULL_THROWN_MESSAGE = 'The worker function threw'

export class ThrowGuard {
  readonly #target: string
  readonly #modules = new Map<string, string>()
  #dir: string | undefined

  /** @param filename the pool's worker file (an absolute path). */
  constructor (filename: string) {
    this.#target = pathToFileURL(filename).href
  }

  /** The module to run `name` of the worker file through (written on first use). */
  moduleFor (exportName: string): string {
    let path = this.#modules.get(exportName)
    if (path === undefined) {
      this.#dir ??= mkdtempSync(join(tmpdir(), 'fastify-backpressure-'))
      path = join(this.#dir, `guard-${this.#modules.size}.mjs`)
      writeFileSync(path, source(this.#target, exportName))
      this.#modules.set(exportName, path)
    }
    return path
  }

  /** Removes the generated modules (the threads must be gone: call after `destroy()`). */
  dispose (): void {
    if (this.#dir !== undefined) rmSync(this.#dir, { recursive: true, force: true })
    this.#dir = undefined
    this.#modules.clear()
  }
}

function source (target: string, exportName: string): string {
  return `import * as worker from ${JSON.stringify(target)}
const name = ${JSON.stringify(exportName)}
const fn = typeof worker[name] === 'function' ? worker[name] : name === 'default' && typeof worker.default?.default === 'function' ? worker.default.default : undefined
const nullThrown = (error) => {
  throw error === null || error === undefined ? new Error(${JSON.stringify(NULL_THROWN_MESSAGE)} + ' ' + String(error)) : error
}
// Not an async function: a synchronous result is returned as is, and a promise gets one rejection
// handler, so a guarded task costs one promise more than the bare function, not two ticks.
export default function guarded (task) {
  if (fn === undefined) throw new Error('No handler function ' + JSON.stringify(name) + ' exported from ' + ${JSON.stringify(target)})
  let result
  try {
    result = fn(task)
  } catch (error) {
    nullThrown(error)
  }
  return result instanceof Promise ? result.catch(nullThrown) : result
}
`
}
