/**
 * The closed set of error codes Tandem answers with, each mapped once to an HTTP status, a gRPC
 * status and an OpenAI error `type`. Code that fails throws (or returns) a TandemError with one
 * of these codes; HTTP and gRPC edges translate through this table and nowhere else.
 */

// gRPC status numbers (grpc/status.proto); literal here so common/ imports nothing.
const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export const ERROR_CODES = {
  /** Malformed or out-of-range input: bad JSON, wrong types, missing fields, bad values. */
  invalid_request: { http: 400, grpc: GRPC.INVALID_ARGUMENT, type: 'BadRequestError' },
  /** The prompt plus max_tokens does not fit the model's context. */
  context_length_exceeded: { http: 400, grpc: GRPC.INVALID_ARGUMENT, type: 'BadRequestError' },
  unauthenticated: { http: 401, grpc: GRPC.UNAUTHENTICATED, type: 'AuthenticationError' },
  /** No such route, request id, or worker. */
  not_found: { http: 404, grpc: GRPC.NOT_FOUND, type: 'NotFoundError' },
  /** The request names a model nobody serves. */
  model_not_found: { http: 404, grpc: GRPC.NOT_FOUND, type: 'NotFoundError' },
  /** The request body is larger than the configured limit. */
  payload_too_large: { http: 413, grpc: GRPC.INVALID_ARGUMENT, type: 'BadRequestError' },
  /** A precondition of the system does not hold (e.g. a block-size mismatch with a worker). */
  failed_precondition: { http: 409, grpc: GRPC.FAILED_PRECONDITION, type: 'ConflictError' },
  /** Admission queue full: retry later (answered with Retry-After). */
  rate_limited: { http: 429, grpc: GRPC.RESOURCE_EXHAUSTED, type: 'RateLimitError' },
  /** The caller went away or cancelled. 499 is nginx's "client closed request". */
  cancelled: { http: 499, grpc: GRPC.CANCELLED, type: 'CancelledError' },
  internal: { http: 500, grpc: GRPC.INTERNAL, type: 'InternalServerError' },
  not_implemented: { http: 501, grpc: GRPC.UNIMPLEMENTED, type: 'NotImplementedError' },
  /** A worker answered with an error or broke the protocol. */
  upstream_error: { http: 502, grpc: GRPC.UNAVAILABLE, type: 'BadGatewayError' },
  /** Moving KV blocks between workers failed (peer gone, blocks expired, bad descriptor). */
  kv_transfer_failed: { http: 502, grpc: GRPC.UNAVAILABLE, type: 'BadGatewayError' },
  /** No healthy worker can take the request now (answered with Retry-After). */
  unavailable: { http: 503, grpc: GRPC.UNAVAILABLE, type: 'ServiceUnavailableError' },
  deadline_exceeded: { http: 504, grpc: GRPC.DEADLINE_EXCEEDED, type: 'TimeoutError' },
} as const satisfies Record<string, { http: number; grpc: number; type: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TandemError extends Error {
  override readonly name = 'TandemError';
  readonly code: ErrorCode;
  /** The request field at fault, when there is one (OpenAI's `param`). */
  readonly param: string | undefined;
  /** Seconds a client should wait before retrying (rate_limited, unavailable). */
  readonly retryAfterS: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; param?: string; retryAfterS?: number } = {},
  ) {
    // A client's error (4xx) is an answer, not a fault: it carries no stack trace (its `cause`
    // keeps its own). Capturing one cost 35-200 us per error in the orchestrator (tsx, source maps
    // on), paid on every refusal of a client refused in a loop: 7 MB prompts, 429s.
    const stackTraceLimit = Error.stackTraceLimit;
    if (ERROR_CODES[code].http < 500) Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.param = options.param;
    this.retryAfterS = options.retryAfterS;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }

  /** Read by proto/grpc's server adapter to choose the status it answers with. */
  get grpcStatus(): number {
    return ERROR_CODES[this.code].grpc;
  }
}

export function isTandemError(value: unknown): value is TandemError {
  return value instanceof TandemError;
}

/** Wraps anything thrown into a TandemError; unknown errors become `internal`. */
export function toTandemError(error: unknown, fallback: ErrorCode = 'internal'): TandemError {
  if (error instanceof TandemError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TandemError(fallback, message, { cause: error });
}

const GRPC_TO_CODE: Record<number, ErrorCode> = {
  [GRPC.CANCELLED]: 'cancelled',
  [GRPC.INVALID_ARGUMENT]: 'invalid_request',
  [GRPC.DEADLINE_EXCEEDED]: 'deadline_exceeded',
  [GRPC.NOT_FOUND]: 'not_found',
  [GRPC.FAILED_PRECONDITION]: 'failed_precondition',
  [GRPC.RESOURCE_EXHAUSTED]: 'rate_limited',
  [GRPC.UNIMPLEMENTED]: 'not_implemented',
  [GRPC.UNAVAILABLE]: 'unavailable',
  [GRPC.UNAUTHENTICATED]: 'unauthenticated',
};

/** The code a gRPC status from a worker maps back to (anything unlisted is upstream_error). */
export function codeFromGrpcStatus(grpcStatus: number): ErrorCode {
  return GRPC_TO_CODE[grpcStatus] ?? 'upstream_error';
}

/** OpenAI's (and current vLLM's) error body: `{"error": {message, type, param, code}}`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

export function toOpenAIErrorBody(error: TandemError): OpenAIErrorBody {
  const spec = ERROR_CODES[error.code];
  return { error: { message: error.message, type: spec.type, param: error.param ?? null, code: spec.http } };
}

/** A parser's answer for untrusted input: parsers return this rather than throw. */
export type Result<T, E = TandemError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const fail = <E = TandemError>(error: E): Result<never, E> => ({ ok: false, error });
