import type { GpuProfile } from './gpus.ts';
import { kvBytesPerToken, type ModelProfile } from './models.ts';

/**
 * The roofline timing model: how long one forward pass of a batch takes on a GPU x model
 * profile. A pass is bound by compute (prefill: 2 FLOPs per parameter per token, plus
 * attention's term quadratic in context) or by memory (decode: every weight read once per pass,
 * plus the KV cache of every sequence in the batch), whichever is slower. Tensor parallelism
 * divides both across `tp` GPUs and adds two all-reduces per layer. All results in seconds.
 */
export interface EngineProfile {
  readonly gpu: GpuProfile;
  readonly model: ModelProfile;
  /** Tensor-parallel degree (GPUs per engine). */
  readonly tp: number;
}

export interface RooflineParams {
  /** Fraction of peak FLOP/s that large GEMMs reach (model FLOPs utilisation). */
  readonly computeEfficiency: number;
  /** Fraction of peak memory bandwidth that weight and KV reads reach. */
  readonly memoryEfficiency: number;
  /** Fixed cost of every forward pass (launch, scheduling, sampling), seconds. */
  readonly stepOverheadSeconds: number;
  /** Latency of one all-reduce across the TP group, seconds. */
  readonly allReduceLatencySeconds: number;
  /** Share of device memory the engine may use (vLLM's gpu_memory_utilization). */
  readonly gpuMemoryUtilization: number;
  /** Memory kept per GPU for activations, CUDA graphs and the allocator, bytes. */
  readonly activationReserveBytes: number;
}

/**
 * Defaults chosen so the model lands where public measurements of vLLM do: Llama-3.1-8B at
 * batch 1 on an H100 decodes in about 6.5 ms per token, and prefills 8k tokens in ~0.3 s.
 */
export const DEFAULT_ROOFLINE: RooflineParams = {
  computeEfficiency: 0.55,
  memoryEfficiency: 0.8,
  stepOverheadSeconds: 0.0005,
  allReduceLatencySeconds: 0.00001,
  gpuMemoryUtilization: 0.9,
  activationReserveBytes: 2e9,
};

/** One sequence's share of a forward pass. */
export interface PrefillChunk {
  /** Prompt tokens computed in this pass. */
  readonly newTokens: number;
  /** Tokens already in this sequence's KV cache before the chunk (cached prefix or earlier chunks). */
  readonly contextTokens: number;
}

export interface BatchShape {
  readonly prefill: readonly PrefillChunk[];
  /** Sequences decoding one token each in this pass. */
  readonly decodeSequences: number;
  /** Sum over decoding sequences of their context length (tokens in KV), tokens. */
  readonly decodeContextTokens: number;
}

/** Seconds one forward pass over `batch` takes. An empty batch costs nothing. */
export function forwardSeconds(
  profile: EngineProfile,
  batch: BatchShape,
  params: RooflineParams = DEFAULT_ROOFLINE,
): number {
  const { gpu, model, tp } = profile;
  let prefillTokens = 0;
  let attentionPairs = batch.decodeContextTokens; // (query, key) pairs attended, summed
  let kvReadTokens = batch.decodeContextTokens;
  for (const chunk of batch.prefill) {
    prefillTokens += chunk.newTokens;
    attentionPairs += chunk.newTokens * chunk.contextTokens + (chunk.newTokens * (chunk.newTokens + 1)) / 2;
    kvReadTokens += chunk.contextTokens + chunk.newTokens;
  }
  const newTokens = prefillTokens + batch.decodeSequences;
  if (newTokens === 0) return 0;

  const linearFlops = 2 * model.params * newTokens;
  const attentionFlops = 4 * model.layers * model.attentionHeads * model.headDim * attentionPairs;
  const computeSeconds = (linearFlops + attentionFlops) / (tp * gpu.peakFlops * params.computeEfficiency);

  const perToken = kvBytesPerToken(model);
  const bytes = model.params * model.dtypeBytes + perToken * (kvReadTokens + newTokens);
  const memorySeconds = bytes / (tp * gpu.memoryBandwidth * params.memoryEfficiency);

  return (
    Math.max(computeSeconds, memorySeconds) +
    tensorParallelSeconds(profile, newTokens, params) +
    params.stepOverheadSeconds
  );
}

/** Two all-reduces per layer of the batch's activations (ring: 2(tp-1)/tp of the data each). */
function tensorParallelSeconds(profile: EngineProfile, newTokens: number, params: RooflineParams): number {
  const { gpu, model, tp } = profile;
  if (tp <= 1) return 0;
  const activationBytes = newTokens * model.hiddenSize * model.dtypeBytes;
  const perAllReduce =
    params.allReduceLatencySeconds + (activationBytes * 2 * (tp - 1)) / tp / gpu.interconnectBandwidth;
  return 2 * model.layers * perAllReduce;
}

/** Seconds to prefill a prompt of `promptTokens` of which `cachedTokens` are already cached, alone. */
export function prefillSeconds(
  profile: EngineProfile,
  promptTokens: number,
  cachedTokens = 0,
  params: RooflineParams = DEFAULT_ROOFLINE,
): number {
  const newTokens = Math.max(0, promptTokens - cachedTokens);
  return forwardSeconds(
    profile,
    { prefill: [{ newTokens, contextTokens: promptTokens - newTokens }], decodeSequences: 0, decodeContextTokens: 0 },
    params,
  );
}

/** Seconds of one decode step for `batchSize` sequences of `meanContextTokens` each. */
export function decodeStepSeconds(
  profile: EngineProfile,
  batchSize: number,
  meanContextTokens: number,
  params: RooflineParams = DEFAULT_ROOFLINE,
): number {
  return forwardSeconds(
    profile,
    { prefill: [], decodeSequences: batchSize, decodeContextTokens: batchSize * meanContextTokens },
    params,
  );
}

/** Tokens of KV cache the engine can hold: memory left after weights and reserves. */
export function kvCapacityTokens(profile: EngineProfile, params: RooflineParams = DEFAULT_ROOFLINE): number {
  const { gpu, model, tp } = profile;
  const usable =
    tp * (gpu.memoryBytes * params.gpuMemoryUtilization - params.activationReserveBytes) -
    model.params * model.dtypeBytes;
  return Math.max(0, Math.floor(usable / kvBytesPerToken(model)));
}

/** KV blocks of `blockSize` tokens the engine can hold. */
export function kvCapacityBlocks(
  profile: EngineProfile,
  blockSize: number,
  params: RooflineParams = DEFAULT_ROOFLINE,
): number {
  return Math.floor(kvCapacityTokens(profile, params) / blockSize);
}

/** Bytes of one KV block on the whole engine (all TP ranks). */
export function kvBlockBytes(model: ModelProfile, blockSize: number): number {
  return kvBytesPerToken(model) * blockSize;
}
