import { TandemError, type ErrorCode } from '../../common/errors.ts';
import { errorMessageOf } from '../../common/openai/index.ts';

/**
 * A worker's HTTP error status as a TandemError code. Statuses that describe the client's
 * request (400, 413) keep their meaning; a worker refusing for load (429, 503) or time (504)
 * keeps it too, so the dispatcher can retry elsewhere; everything else is the worker failing
 * (upstream_error, 502 to the client): a 401 or 404 from a worker is a deployment mistake, not
 * the client's.
 */
export function codeFromHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    case 499:
      return 'cancelled';
    case 501:
      return 'not_implemented';
    case 503:
      return 'unavailable';
    case 504:
      return 'deadline_exceeded';
    default:
      return 'upstream_error';
  }
}

export function httpError(worker: string, what: string, status: number, bodyText: string): TandemError {
  return new TandemError(
    codeFromHttpStatus(status),
    `worker ${worker} ${what}: HTTP ${status}: ${errorMessageOf(bodyText)}`,
  );
}
