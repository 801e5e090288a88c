import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from '@bufbuild/protobuf';

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Aborted when the client cancels, the deadline passes, or the server shuts down. */
  readonly signal: AbortSignal;
  /** The caller's deadline, Unix epoch milliseconds; undefined when it set none. */
  readonly deadlineUnixMs: number | undefined;
  /** Request metadata (headers), first value per key, keys lower-case. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly peer: string;
}

type MethodShape = Pick<DescMethod, 'input' | 'output' | 'methodKind'>;
type Input<M extends MethodShape> = MessageShape<M['input'] & DescMessage>;
type Output<M extends MethodShape> = MessageInitShape<M['output'] & DescMessage>;

/**
 * The handler type for one method, by kind. Handlers return plain init objects or messages;
 * streams are async iterables. Throw an `RpcError` (or an error with a numeric `grpcStatus`)
 * to choose the status; anything else answers INTERNAL.
 */
export type MethodHandler<M extends MethodShape> = M['methodKind'] extends 'unary'
  ? (request: Input<M>, context: CallContext) => Promise<Output<M>>
  : M['methodKind'] extends 'server_streaming'
    ? (request: Input<M>, context: CallContext) => AsyncIterable<Output<M>>
    : M['methodKind'] extends 'client_streaming'
      ? (requests: AsyncIterable<Input<M>>, context: CallContext) => Promise<Output<M>>
      : (requests: AsyncIterable<Input<M>>, context: CallContext) => AsyncIterable<Output<M>>;

/** One handler per method of a generated service, keyed by the method's local name. */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S['method']]: MethodHandler<S['method'][K]>;
};
