import type { Clock } from '../../common/clock.ts';
import type { TandemError } from '../../common/errors.ts';
import { createLogLimiter, type Logger, type LogLimiter } from '../../common/log.ts';

/**
 * How the frontend logs a request it could not serve. Expected rejections (overload, no worker,
 * shutdown, timeouts: the system working as configured) are a warn line without a stack trace;
 * faults (internal errors, workers breaking the protocol) are an error line with the cause's
 * stack. Both are rate limited per error code (`createLogLimiter`: 5 lines per code per second
 * by default), each line saying how many of its kind were left out; client errors (4xx) are
 * debug. The per-request info line (request-log.ts) goes through `requestLines`, which lets
 * through every request that ran and rate limits the rejected ones.
 */
export interface FailureLog {
  failed(requestId: string, error: TandemError): void;
  /** Whether to write the per-request line of a request that ended with `outcome`; undefined drops it, a number is how many were dropped before it. */
  requestLine(outcome: string): number | undefined;
}

/** Codes that mean the system refused or gave up as configured, not that something broke. */
const EXPECTED = new Set(['rate_limited', 'unavailable', 'deadline_exceeded', 'cancelled']);

export function createFailureLog(
  logger: Logger,
  clock: Clock,
  options: { readonly maxPerSecond?: number } = {},
): FailureLog {
  const limiter: LogLimiter = createLogLimiter({
    max: options.maxPerSecond ?? 5,
    intervalMs: 1000,
    now: () => clock.now(),
  });
  return {
    failed(requestId, error) {
      if (error.httpStatus < 500 && !EXPECTED.has(error.code)) {
        logger.debug({ requestId, code: error.code }, error.message);
        return;
      }
      const suppressed = limiter.take(error.code);
      if (suppressed === undefined) return;
      const fields = {
        requestId,
        code: error.code,
        status: error.httpStatus,
        ...(suppressed > 0 ? { suppressed } : {}),
      };
      if (EXPECTED.has(error.code))
        logger.warn(
          fields,
          suppressed > 0 ? `${error.message} (and ${suppressed} more like it not logged)` : error.message,
        );
      else logger.error({ ...fields, err: error.cause ?? error }, error.message);
    },
    requestLine(outcome) {
      if (outcome !== 'rejected') return 0;
      return limiter.take('request-line:rejected');
    },
  };
}
