/** The engine API (shared with every engine), the shared core and driver with their pluggable parts, and the simulated engine. */
export type {
  CallOptions,
  DecodeRequest,
  Engine,
  EngineInfo,
  EngineStatus,
  FinishReason,
  GenerateRequest,
  HeldKv,
  KvEventSink,
  KvBlockShape,
  KvHandoff,
  KvHandoffTransport,
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
export type { CoreParts, ForwardPass, KvTransfer, StepExecutor, StepTiming } from './core-parts.ts';
export {
  createEngineDriver,
  type EngineDriver,
  type EngineDriverDeps,
  type EngineDriverOptions,
} from './engine-driver.ts';
export { createLinkModelTransfer, createRooflineExecutor, createSimParts } from './sim-parts.ts';
export { isDecoding, type PendingPull, type ResolvedSampling, type Sequence } from './sequence.ts';
export {
  engineOptionsFromConfig,
  resolveEngineOptions,
  type ResolvedEngineOptions,
  type SimEngineOptions,
} from './options.ts';
export { createVllmBlockHasher, externalBlockHash, type BlockHash, type VllmBlockHasher } from './block-hash.ts';
export { encodeCbor, CborWriter, type CborValue } from './cbor.ts';
