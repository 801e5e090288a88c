import { TandemError, type ErrorCode } from '../../common/errors.ts';

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

/**
 * The message of an error body in any shape vLLM and SGLang use: `{"error": {"message"}}`
 * (current), `{"message"}` (older, flat), `{"detail"}` (FastAPI), else the text itself.
 */
export function errorMessageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    if (typeof body.error === 'object' && typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.error === 'string') return body.error;
    if (typeof body.message === 'string') return body.message;
    if (typeof body.detail === 'string') return body.detail;
  } catch {
    // not JSON: use the text
  }
  return text.trim().slice(0, 500) || '(empty body)';
}

export function httpError(worker: string, what: string, status: number, bodyText: string): TandemError {
  return new TandemError(codeFromHttpStatus(status), `worker ${worker} ${what}: HTTP ${status}: ${errorMessageOf(bodyText)}`);
}
