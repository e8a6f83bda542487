/**
 * Which errors a client may retry, and the retry hint they carry. One set of codes for every
 * executor (the pool and each lane): the task never ran, so trying again later, or elsewhere, is
 * safe.
 *
 * The hint travels on the error itself, as `error.headers['retry-after']` (seconds, the header's
 * unit, RFC 9110 §10.2.3): Fastify's default error handler sets `error.headers` on the reply
 * (fastify/lib/error-handler.js, `setErrorHeaders`). No hook writes it, so no executor's hint can
 * overwrite another's, and an app's own error handler sees it on the error it receives.
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
