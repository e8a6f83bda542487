/**
 * Which errors a client may retry (the task never ran, so retrying later or elsewhere is safe), and
 * their retry hint: `error.headers['retry-after']` (RFC 9110 §10.2.3), which Fastify's default error
 * handler sets on the reply (fastify/lib/error-handler.js, `setErrorHeaders`). On the error, not
 * written by a hook: no executor's hint can overwrite another's, and an app's own handler sees it.
 */
/** Error codes after which a client may retry: the task never ran. */
export const RETRYABLE_ERROR_CODES: ReadonlySet<string> = new Set([
  'FST_BACKPRESSURE_QUEUE_FULL',
  'FST_BACKPRESSURE_QUEUE_WAIT_EXCEEDED',
  'FST_BACKPRESSURE_CLOSED',
  'FST_BACKPRESSURE_POOL_DOWN'
])

/** An error `isRetryableError` accepts: coded, with the status it answers with, and the retry
 * hint when its executor has a `retryAfter`. */
export type RetryableError = Error & { code: string, statusCode: number, headers?: { 'retry-after': string } }

/** True for the errors the pool and the lanes reject with when the task never ran and a retry may work. */
export function isRetryableError (error: unknown): error is RetryableError {
  return error instanceof Error && RETRYABLE_ERROR_CODES.has((error as { code?: unknown }).code as string)
}

/** Puts the retry hint on a retryable error (`retryAfter` in seconds; 0: no hint). Returns the error. */
export function withRetryHint<E extends Error> (error: E, retryAfter: number): E {
  if (retryAfter > 0 && isRetryableError(error)) error.headers = { 'retry-after': String(retryAfter) }
  return error
}
