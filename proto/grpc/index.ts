export { createGrpcClient, type RpcCallOptions, type ClientMethod, type ServiceClient } from './client.ts';
export type { MessageStream } from './message-stream.ts';
export type { CallContext, MethodHandler, ServiceHandlers } from './handlers.ts';
export { fromServiceError, RpcError, toStatusObject } from './rpc-error.ts';
export { createGrpcServer, type GrpcServer } from './server.ts';
export { toGrpcServiceDefinition } from './service-definition.ts';
export { status as GrpcStatus } from '@grpc/grpc-js';
