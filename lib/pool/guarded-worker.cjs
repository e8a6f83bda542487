// The worker module every pool task runs through: it calls the user's named export and turns a
// thrown `null`/`undefined` into an Error. piscina 5.3's main thread resolves whenever the worker
// reports `error === null`, so `throw null` would resolve `run()` (a route would answer 200); only
// the worker can tell the two apart. Plain CommonJS importing nothing but the user's file: worker
// threads may run without the main thread's loader, and piscina loads it with `require()`, which
// for an ES module goes through Node's require(esm), where Node 20.20 can abort the whole process
// when a loader hook is installed in the thread (as a test runner's is). The build copies it
// unchanged into both dist trees. A task arrives as `{ file, name, task }` (lib/pool/runner.ts),
// `file` a `file:` URL.
'use strict'

/** The message a thrown `null`/`undefined` becomes (the pool's tests match it). */
const NULL_THROWN_MESSAGE = 'The worker function threw'

/** `file` + NUL + `name` → the handler (or its pending import). */
const handlers = new Map()

function nullThrown (error) {
  throw error === null || error === undefined ? new Error(`${NULL_THROWN_MESSAGE} ${String(error)}`) : error
}

// The export is looked up as piscina does: the named export, or on a CommonJS module's exports
// object (`module.exports = fn` is the `default`).
async function load (file, name) {
  const namespace = await import(file)
  const exports = namespace.default
  const fn = typeof namespace[name] === 'function' ? namespace[name] : typeof exports?.[name] === 'function' ? exports[name] : undefined
  if (fn === undefined) throw new Error(`No handler function ${JSON.stringify(name)} exported from ${file}`)
  return fn
}

function call (fn, task) {
  let result
  try {
    result = fn(task)
  } catch (error) {
    nullThrown(error)
  }
  return result instanceof Promise ? result.catch(nullThrown) : result
}

/** The handler the last task found loaded: a thread of one pool runs one file, mostly one export,
 * so most tasks need no key built and hashed. */
let lastFile
let lastName
let lastHandler

// Not an async function: once the handler is loaded, a synchronous result is returned as is and
// a promise gets one rejection handler, so a task costs one promise more than the bare function.
module.exports = function guarded ({ file, name, task }) {
  if (file === lastFile && name === lastName) return call(lastHandler, task)
  const key = `${file}\0${name}`
  let handler = handlers.get(key)
  if (handler === undefined) {
    handler = load(file, name)
    handlers.set(key, handler)
    handler.then((fn) => { handlers.set(key, fn) }, () => { handlers.delete(key) })
  }
  if (typeof handler !== 'function') return handler.then((fn) => call(fn, task))
  lastFile = file
  lastName = name
  lastHandler = handler
  return call(handler, task)
}
