import {
  fromBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import {
  Client,
  credentials,
  Metadata,
  status,
  type CallOptions as GrpcCallOptions,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ClientWritableStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { createH2Connection, type H2Connection } from './h2-stream.ts';
import type { MessageStream } from './message-stream.ts';
import { encodeRequest } from './request-encoding.ts';
import { createResponseDecoder } from './response-decoding.ts';
import { fromServiceError, RpcError } from './rpc-error.ts';
import { isClientStreaming, isServerStreaming } from './service-definition.ts';

export interface RpcCallOptions {
  /** Relative timeout in milliseconds; the server sees it as the call's deadline. */
  timeoutMs?: number;
  /** Absolute deadline, Unix epoch milliseconds (the earlier of this and timeoutMs wins). */
  deadlineUnixMs?: number;
  /** Aborting cancels the call; the promise or stream then rejects with CANCELLED. */
  signal?: AbortSignal;
  metadata?: Record<string, string>;
}

type MethodShape = Pick<DescMethod, 'input' | 'output' | 'methodKind'>;
type Input<M extends MethodShape> = MessageInitShape<M['input'] & DescMessage>;
type Output<M extends MethodShape> = MessageShape<M['output'] & DescMessage>;

/** The client function for one method, by kind. Every failure rejects with an `RpcError`. */
export type ClientMethod<M extends MethodShape> = M['methodKind'] extends 'unary'
  ? (request: Input<M>, options?: RpcCallOptions) => Promise<Output<M>>
  : M['methodKind'] extends 'server_streaming'
    ? (request: Input<M>, options?: RpcCallOptions) => MessageStream<Output<M>>
    : M['methodKind'] extends 'client_streaming'
      ? (requests: AsyncIterable<Input<M>>, options?: RpcCallOptions) => Promise<Output<M>>
      : (requests: AsyncIterable<Input<M>>, options?: RpcCallOptions) => AsyncIterable<Output<M>>;

export type ServiceClient<S extends DescService> = {
  [K in keyof S['method']]: ClientMethod<S['method'][K]>;
} & { close(): void };

/**
 * A typed client for a generated service at `address` ("host:port"), insecure (cleartext
 * HTTP/2). Server streams are `MessageStream`s (async iterables that can also hand over every
 * message already received at once); breaking out of a `for await` cancels the call.
 */
export function createGrpcClient<S extends DescService>(
  service: S,
  address: string,
  options: { maxMessageBytes?: number } = {},
): ServiceClient<S> {
  const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  const client = new Client(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
  });
  // Server streams go over their own HTTP/2 connection (h2-stream.ts), opened on first use.
  let h2: H2Connection | undefined;
  const streams = () => (h2 ??= createH2Connection(address));
  const methods: Record<string, unknown> = {
    close: () => {
      client.close();
      h2?.close();
    },
  };
  for (const method of service.methods) methods[method.localName] = clientMethod(client, service, method, streams);
  return methods as ServiceClient<S>;
}

function clientMethod(client: Client, service: DescService, method: DescMethod, streams: () => H2Connection): unknown {
  const path = `/${service.typeName}/${method.name}`;
  const serialize = (value: unknown) => Buffer.from(encodeRequest(method.input, value));
  const deserialize = (bytes: Buffer) => fromBinaryOutput(method.output, bytes);
  if (!isClientStreaming(method) && !isServerStreaming(method)) {
    return (request: unknown, options: RpcCallOptions = {}) =>
      readResponse(options, (done) =>
        client.makeUnaryRequest(
          path,
          serialize,
          deserialize,
          request,
          toMetadata(options),
          toGrpcOptions(options),
          done,
        ),
      );
  }
  if (!isClientStreaming(method)) {
    const decode = createResponseDecoder(method.output);
    return (request: unknown, options: RpcCallOptions = {}): MessageStream<unknown> =>
      streams().open(path, encodeRequest(method.input, request), {
        deadlineUnixMs: toGrpcOptions(options).deadline,
        metadata: options.metadata ?? {},
        deserialize: decode,
        signal: options.signal,
      });
  }
  if (!isServerStreaming(method)) {
    return (requests: AsyncIterable<unknown>, options: RpcCallOptions = {}) =>
      readResponse(options, (done) => {
        const call = client.makeClientStreamRequest(
          path,
          serialize,
          deserialize,
          toMetadata(options),
          toGrpcOptions(options),
          done,
        );
        void writeAll(call, requests);
        return call;
      });
  }
  return (requests: AsyncIterable<unknown>, options: RpcCallOptions = {}) =>
    readStream(() => {
      const call = client.makeBidiStreamRequest(
        path,
        serialize,
        deserialize,
        toMetadata(options),
        toGrpcOptions(options),
      );
      void writeAll(call, requests);
      return call;
    }, options);
}

/**
 * The response of a unary or client-streaming call, which `start` makes with `done` as its
 * callback; an error rejects as an RpcError. The caller's signal cancels the call, and one
 * already aborted rejects with CANCELLED without starting it (as `readStream` does for streams).
 */
function readResponse(
  options: RpcCallOptions,
  start: (done: (error: ServiceError | null, response?: unknown) => void) => { cancel(): void },
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(cancelled());
    const onAbort = () => call.cancel();
    const call = start((error, response) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (error) reject(fromServiceError(error));
      else resolve(response);
    });
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function* readStream(
  open: () => ClientReadableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  options: RpcCallOptions,
): AsyncGenerator<unknown> {
  if (options.signal?.aborted) throw cancelled();
  const call = open();
  const onAbort = () => call.cancel();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const message of call) yield message;
  } catch (error) {
    throw fromServiceError(error);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    call.cancel();
  }
}

async function writeAll(
  call: ClientWritableStream<unknown> | ClientDuplexStream<unknown, unknown>,
  requests: AsyncIterable<unknown>,
): Promise<void> {
  try {
    for await (const request of requests) {
      if (!call.write(request)) await new Promise((resolve) => call.once('drain', resolve));
    }
    call.end();
  } catch {
    call.cancel();
  }
}

function toGrpcOptions(options: RpcCallOptions): { deadline?: number } & Partial<GrpcCallOptions> {
  const deadlines = [
    options.deadlineUnixMs,
    options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
  ].filter((d): d is number => d !== undefined);
  return deadlines.length ? { deadline: Math.min(...deadlines) } : {};
}

function toMetadata(options: RpcCallOptions): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
  return metadata;
}

function cancelled(): RpcError {
  return new RpcError(status.CANCELLED, 'call cancelled by the caller');
}

function fromBinaryOutput(schema: DescMessage, bytes: Buffer): unknown {
  return fromBinary(schema, bytes);
}
