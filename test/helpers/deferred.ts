/**
 * A promise settled by hand: what a test holds open (an upstream call, a running task, a request
 * that must arrive first) until it chooses. Node 22's `Promise.withResolvers()` once Node 20 is no
 * longer supported (package.json "engines").
 */
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

export function deferred<T = unknown> (): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
  return { promise, resolve, reject }
}
