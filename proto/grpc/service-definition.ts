import { create, fromBinary, toBinary, type DescMethod, type DescService } from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/**
 * Turns a protobuf-es service descriptor into a grpc-js service definition: one entry per
 * method, keyed by the method's local (camelCase) name, with binary (de)serializers from the
 * descriptor. Works for every generated service; no per-service code.
 */
export function toGrpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.localName] = toMethodDefinition(service, method);
  return definition as ServiceDefinition;
}

export function isClientStreaming(method: DescMethod): boolean {
  return method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming';
}

export function isServerStreaming(method: DescMethod): boolean {
  return method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming';
}

function toMethodDefinition(service: DescService, method: DescMethod): MethodDefinition<unknown, unknown> {
  return {
    path: `/${service.typeName}/${method.name}`,
    requestStream: isClientStreaming(method),
    responseStream: isServerStreaming(method),
    originalName: method.localName,
    // `create` returns an existing message of the right type unchanged, and turns a plain
    // init object into one, so handlers and callers may pass either.
    requestSerialize: (value) => Buffer.from(toBinary(method.input, create(method.input, value as never))),
    requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
    responseSerialize: (value) => Buffer.from(toBinary(method.output, create(method.output, value as never))),
    responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
  };
}
