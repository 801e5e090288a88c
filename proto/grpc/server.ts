import type { DescMethod, DescService } from '@bufbuild/protobuf';
import {
  Server,
  ServerCredentials,
  status,
  type Metadata,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedHandleCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { once, type EventEmitter } from 'node:events';
import type { CallContext, ServiceHandlers } from './handlers.ts';
import { RpcError, toStatusObject } from './rpc-error.ts';
import { toGrpcServiceDefinition } from './service-definition.ts';

export interface GrpcServer {
  /** Registers a generated service; call before `listen`. */
  add<S extends DescService>(service: S, handlers: ServiceHandlers<S>): void;
  /** Binds (insecure, HTTP/2 cleartext) and resolves with the bound port; port 0 picks a free one. */
  listen(host: string, port: number): Promise<number>;
  /** Aborts every in-flight call's signal, waits up to `graceMs` for calls to end, then forces. */
  close(graceMs?: number): Promise<void>;
}

/** The part of every grpc-js server call kind that a CallContext needs. */
type AnyCall = EventEmitter & Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'getPeer' | 'metadata'>;
type AnyHandler = (input: unknown, context: CallContext) => unknown;

export function createGrpcServer(options: { maxMessageBytes?: number } = {}): GrpcServer {
  const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  const server = new Server({ 'grpc.max_receive_message_length': maxBytes, 'grpc.max_send_message_length': maxBytes });
  const inFlight = new Set<AbortController>();

  function contextFor(call: AnyCall): { context: CallContext; done: () => void } {
    const controller = new AbortController();
    inFlight.add(controller);
    const onCancel = () => controller.abort(new RpcError(status.CANCELLED, 'call cancelled by the client'));
    call.on('cancelled', onCancel);
    const deadline = call.getDeadline();
    const deadlineUnixMs =
      deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? deadline : undefined;
    let timer: NodeJS.Timeout | undefined;
    if (deadlineUnixMs !== undefined) {
      timer = setTimeout(
        () => controller.abort(new RpcError(status.DEADLINE_EXCEEDED, 'deadline exceeded')),
        Math.max(0, deadlineUnixMs - Date.now()),
      );
    }
    const context: CallContext = {
      signal: controller.signal,
      deadlineUnixMs,
      metadata: flatten(call.metadata),
      peer: call.getPeer(),
    };
    const done = () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
      inFlight.delete(controller);
    };
    return { context, done };
  }

  function wrap(method: DescMethod, handler: AnyHandler): UntypedHandleCall {
    switch (method.methodKind) {
      case 'unary':
        return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          const { context, done } = contextFor(call);
          Promise.resolve()
            .then(() => handler(call.request, context))
            .then(
              (response) => callback(null, response),
              (error: unknown) => callback(toStatusObject(error)),
            )
            .finally(done);
        };
      case 'client_streaming':
        return (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          const { context, done } = contextFor(call);
          Promise.resolve()
            .then(() => handler(readRequests(call), context))
            .then(
              (response) => callback(null, response),
              (error: unknown) => callback(toStatusObject(error)),
            )
            .finally(done);
        };
      case 'server_streaming':
        return (call: ServerWritableStream<unknown, unknown>) => {
          const { context, done } = contextFor(call);
          void pipeOut(call, () => handler(call.request, context) as AsyncIterable<unknown>, context.signal).finally(
            done,
          );
        };
      case 'bidi_streaming':
        return (call: ServerDuplexStream<unknown, unknown>) => {
          const { context, done } = contextFor(call);
          void pipeOut(
            call,
            () => handler(readRequests(call), context) as AsyncIterable<unknown>,
            context.signal,
          ).finally(done);
        };
    }
  }

  return {
    add(service, handlers) {
      const implementation: Record<string, UntypedHandleCall> = {};
      for (const method of service.methods) {
        const handler = (handlers as Record<string, AnyHandler | undefined>)[method.localName];
        if (!handler) throw new Error(`no handler for ${service.typeName}.${method.name}`);
        implementation[method.localName] = wrap(method, handler.bind(handlers));
      }
      server.addService(toGrpcServiceDefinition(service), implementation);
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.bindAsync(
          `${host.includes(':') ? `[${host}]` : host}:${port}`,
          ServerCredentials.createInsecure(),
          (error, boundPort) => {
            if (error) reject(error);
            else resolve(boundPort);
          },
        );
      });
    },
    async close(graceMs = 2000) {
      for (const controller of inFlight) controller.abort(new RpcError(status.UNAVAILABLE, 'server shutting down'));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/** Writes a handler's output stream to the call, honouring backpressure and cancellation. */
async function pipeOut(
  call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
  produce: () => AsyncIterable<unknown>,
  signal: AbortSignal,
): Promise<void> {
  const fail = (error: unknown) => {
    if (!call.cancelled) call.emit('error', toStatusObject(error));
  };
  try {
    for await (const message of produce()) {
      if (signal.aborted) break;
      if (!call.write(message)) await Promise.race([once(call, 'drain'), once(signal, 'abort')]);
    }
    if (signal.aborted) fail(signal.reason);
    else call.end();
  } catch (error) {
    fail(signal.aborted ? signal.reason : error);
  }
}

/**
 * The request stream of a client-streaming or bidi call. Node's default stream iterator destroys
 * the stream when the loop ends, which on a duplex call would also close the response side.
 */
function readRequests(
  call: ServerReadableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>,
): AsyncIterable<unknown> {
  return call.iterator({ destroyOnReturn: false });
}

function flatten(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.getMap()))
    out[key.toLowerCase()] = Buffer.isBuffer(values) ? values.toString('base64') : String(values);
  return out;
}
