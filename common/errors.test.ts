import { describe, expect, it } from 'vitest';
import { codeFromGrpcStatus, ERROR_CODES, TandemError, toOpenAIErrorBody, toTandemError } from './errors.ts';

describe('error codes', () => {
  it('maps each code to a 4xx/5xx HTTP status and a non-OK gRPC status', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(spec.http, code).toBeGreaterThanOrEqual(400);
      expect(spec.http, code).toBeLessThan(600);
      expect(spec.grpc, code).toBeGreaterThan(0);
    }
  });

  it("captures a stack trace for a fault (5xx) but not for a client's error (4xx), and leaves the limit as it was", () => {
    const limit = Error.stackTraceLimit;
    const refused = new TandemError('context_length_exceeded', 'too long');
    const fault = new TandemError('internal', 'broken');
    expect(refused.stack).toBe('TandemError: too long');
    expect(fault.stack).toMatch(/^TandemError: broken\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('renders the OpenAI error body with the field at fault', () => {
    const error = new TandemError('invalid_request', 'max_tokens must be positive', { param: 'max_tokens' });
    expect(error.httpStatus).toBe(400);
    expect(toOpenAIErrorBody(error)).toEqual({
      error: { message: 'max_tokens must be positive', type: 'BadRequestError', param: 'max_tokens', code: 400 },
    });
  });

  it('round-trips the gRPC statuses workers answer with', () => {
    for (const code of ['invalid_request', 'deadline_exceeded', 'cancelled', 'unavailable', 'not_found'] as const) {
      expect(codeFromGrpcStatus(new TandemError(code, 'x').grpcStatus)).toBe(code === 'not_found' ? 'not_found' : code);
    }
    expect(codeFromGrpcStatus(13)).toBe('upstream_error');
  });

  it('wraps unknown throwables as internal errors keeping the cause', () => {
    const cause = new Error('boom');
    const wrapped = toTandemError(cause);
    expect(wrapped.code).toBe('internal');
    expect(wrapped.cause).toBe(cause);
  });
});
