/**
 * workers/: engines and the process that serves one. The public surface other folders (bench/,
 * cli/) use; tests may import deeper.
 */
export type {
  Engine,
  EngineInfo,
  EngineStatus,
  GenerateRequest,
  DecodeRequest,
  KvHandoff,
  TokenChunk,
  TokenStream,
} from './engine/index.ts';
export { createSimEngine, engineOptionsFromConfig, type SimEngine, type SimEngineOptions } from './engine/index.ts';
export { createKvEventPublisher, type KvEventPublisher } from './kv-events/index.ts';
export { createWorkerService, createKvPeers, type KvPeers } from './server/index.ts';
export { createHttpFacade, type HttpFacade } from './http/index.ts';
export { createWorkerMetrics, VLLM_METRICS, type WorkerMetrics } from './metrics/index.ts';
export { ENGINE_FACTORIES, startWorker, type RunningWorker, type WorkerAddresses } from './process/index.ts';
