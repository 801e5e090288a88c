import type { FastifyReply } from 'fastify';
import { isTandemError, TandemError, toOpenAIErrorBody } from '../../common/errors.ts';

/**
 * Every error the frontend answers with goes through here: a TandemError keeps its code; an
 * error fastify raised while reading the request (body too large, bad Content-Length, ...) is
 * the client's fault and becomes a 4xx; anything else is internal. The body is OpenAI's error
 * shape; rate_limited and unavailable carry Retry-After.
 */
export function toHttpError(error: unknown): TandemError {
  if (isTandemError(error)) return error;
  const fastifyError = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof fastifyError.message === 'string' ? fastifyError.message : String(error);
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new TandemError('payload_too_large', 'the request body is larger than the server accepts', { cause: error });
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status === 404) return new TandemError('not_found', message, { cause: error });
  if (status === 413) return new TandemError('payload_too_large', message, { cause: error });
  if (status >= 400 && status < 500) return new TandemError('invalid_request', message, { cause: error });
  return new TandemError('internal', 'internal server error', { cause: error });
}

/** Headers an error response carries besides the body (Retry-After, in whole seconds). */
export function errorHeaders(error: TandemError): Record<string, string> {
  return error.retryAfterS === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterS))) };
}

export function sendError(reply: FastifyReply, error: TandemError): FastifyReply {
  return reply
    .code(error.httpStatus)
    .headers(errorHeaders(error))
    .type('application/json')
    .send(toOpenAIErrorBody(error));
}
