/** Worker backends: one interface, a gRPC and a vLLM HTTP implementation, one registry. */
export type {
  AnnouncedRole,
  BackendKind,
  BackendUsage,
  DecodeCall,
  GenerateCall,
  KvEventEndpoint,
  KvHandoffTicket,
  BackendPrefillResult,
  RankLoad,
  ReleaseResult,
  BackendChunk,
  WorkerBackend,
  WorkerStatusReport,
} from './backend.ts';
export { BACKENDS, backendNames, createBackend, type BackendFactory, type BackendSpec } from './registry.ts';
export { createGrpcBackend, DP_RANK_METADATA, type GrpcBackendOptions } from './grpc-backend.ts';
export { fromStatus } from './grpc-wire.ts';
export { createVllmHttpBackend, DP_RANK_HEADER, type VllmHttpBackendOptions } from './vllm-http-backend.ts';
export { codeFromHttpStatus } from './http-errors.ts';
export { BACKEND_CAPABILITIES, refusalOf, type BackendCapabilities } from './capabilities.ts';
export { parsePrometheusText, type PromSample } from '../../common/prometheus-text.ts';
export { readVllmMetrics, type VllmMetricsView } from './vllm-metrics.ts';
export * from './handoff/index.ts';
