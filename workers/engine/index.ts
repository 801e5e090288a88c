/** The simulated engine: its API (shared with every engine), the driver, and the pure core. */
export type {
  CallOptions,
  DecodeRequest,
  Engine,
  EngineInfo,
  EngineStatus,
  FinishReason,
  GenerateRequest,
  KvEventSink,
  KvHandoff,
  PrefillOutcome,
  PrefillResult,
  ReleaseResult,
  RequestUsage,
  SamplingParams,
  TokenChunk,
  TokenStream,
} from './engine-api.ts';
export { createSimEngine, type SimEngine, type SimEngineDeps } from './sim-engine.ts';
export { createEngineCore, type CoreOutput, type CoreStep, type EngineCore } from './engine-core.ts';
export { engineOptionsFromConfig, resolveEngineOptions, type ResolvedEngineOptions, type SimEngineOptions } from './options.ts';
export { createBlockHasher, externalBlockHash, type BlockHash, type BlockHasher } from './block-hash.ts';
export { encodeCbor, CborWriter, type CborValue } from './cbor.ts';
