import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';

/**
 * An RPC failure with its gRPC status code. Servers throw it (or any error carrying a numeric
 * `grpcStatus`) to choose the status they answer with; clients reject with it, so callers
 * see one error type whatever went wrong on the wire.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';

  /**
   * The call was under way on an established connection that then closed without a status: the
   * server may have started the work and is gone (its process died, the network failed). Never
   * set for a call the caller cancelled or one that could not connect.
   */
  readonly connectionLost: boolean;

  constructor(
    readonly code: status,
    message: string,
    options?: { cause?: unknown; connectionLost?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.connectionLost = options?.connectionLost ?? false;
  }

  get codeName(): string {
    return status[this.code] ?? String(this.code);
  }
}

/** The status a server answers with when a handler throws `error`. */
export function toStatusObject(error: unknown): Partial<StatusObject> {
  if (error instanceof RpcError) return { code: error.code, details: error.message, metadata: new Metadata() };
  const grpcStatus = (error as { grpcStatus?: unknown } | null)?.grpcStatus;
  const message = error instanceof Error ? error.message : String(error);
  const code = typeof grpcStatus === 'number' ? (grpcStatus as status) : status.INTERNAL;
  return { code, details: message, metadata: new Metadata() };
}

/** Wraps what a grpc-js client call rejected with. */
export function fromServiceError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  const serviceError = error as Partial<ServiceError> | null;
  if (serviceError && typeof serviceError.code === 'number') {
    return new RpcError(
      serviceError.code,
      serviceError.details || serviceError.message || status[serviceError.code] || 'RPC failed',
      { cause: error },
    );
  }
  return new RpcError(status.UNKNOWN, error instanceof Error ? error.message : String(error), { cause: error });
}
