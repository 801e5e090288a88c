import type { ErrorCode } from '../../common/errors.ts';

/**
 * Worker failures worth one more try on another worker, when nothing was streamed yet: the
 * worker is down or broke (unavailable, upstream_error, internal), refused for load
 * (rate_limited), dropped the request itself (cancelled while the client had not), or a KV pull
 * failed. Errors about the request itself (invalid_request, context length, ...) or its deadline
 * would fail the same way anywhere.
 */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'unavailable',
  'upstream_error',
  'internal',
  'rate_limited',
  'cancelled',
  'kv_transfer_failed',
]);

export function isRetryable(code: ErrorCode): boolean {
  return RETRYABLE.has(code);
}

/** Failures that say something about the worker's health (worth an immediate status poll). */
export function isWorkerFault(code: ErrorCode): boolean {
  return code === 'unavailable' || code === 'upstream_error' || code === 'internal';
}
