/**
 * Model profiles: architecture figures from each model's Hugging Face config.json (layers,
 * hidden size, attention heads, KV heads, head dim, vocabulary, context) and parameter counts
 * from the model cards.
 *
 * - qwen3-8b: Qwen/Qwen3-8B: 8.2B params, 36 layers, hidden 4096, 32 heads, 8 KV heads, head
 *   dim 128, vocab 151936, 32768-token native context.
 * - qwen3-32b: Qwen/Qwen3-32B: 32.8B params, 64 layers, hidden 5120, 64 heads, 8 KV heads,
 *   head dim 128, vocab 151936, 32768-token native context.
 * - llama-3.1-8b: meta-llama/Llama-3.1-8B-Instruct: 8.03B params, 32 layers, hidden 4096, 32
 *   heads, 8 KV heads, head dim 128, vocab 128256, 131072-token context.
 * - llama-3.1-70b: meta-llama/Llama-3.1-70B-Instruct: 70.6B params, 80 layers, hidden 8192, 64
 *   heads, 8 KV heads, head dim 128, vocab 128256, 131072-token context.
 */
export interface ModelProfile {
  readonly name: string;
  /** The Hugging Face id, which /v1/models reports. */
  readonly hfId: string;
  readonly params: number;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  /** Longest prompt + output, tokens. */
  readonly maxModelLen: number;
  /** Bytes per weight and per KV element (2 for BF16). */
  readonly dtypeBytes: number;
}

export const MODEL_PROFILES = {
  'qwen3-8b': {
    name: 'qwen3-8b',
    hfId: 'Qwen/Qwen3-8B',
    params: 8.2e9,
    layers: 36,
    hiddenSize: 4096,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 151936,
    maxModelLen: 32768,
    dtypeBytes: 2,
  },
  'qwen3-32b': {
    name: 'qwen3-32b',
    hfId: 'Qwen/Qwen3-32B',
    params: 32.8e9,
    layers: 64,
    hiddenSize: 5120,
    attentionHeads: 64,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 151936,
    maxModelLen: 32768,
    dtypeBytes: 2,
  },
  'llama-3.1-8b': {
    name: 'llama-3.1-8b',
    hfId: 'meta-llama/Llama-3.1-8B-Instruct',
    params: 8.03e9,
    layers: 32,
    hiddenSize: 4096,
    attentionHeads: 32,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 128256,
    maxModelLen: 131072,
    dtypeBytes: 2,
  },
  'llama-3.1-70b': {
    name: 'llama-3.1-70b',
    hfId: 'meta-llama/Llama-3.1-70B-Instruct',
    params: 70.6e9,
    layers: 80,
    hiddenSize: 8192,
    attentionHeads: 64,
    kvHeads: 8,
    headDim: 128,
    vocabSize: 128256,
    maxModelLen: 131072,
    dtypeBytes: 2,
  },
} as const satisfies Record<string, ModelProfile>;

export type ModelName = keyof typeof MODEL_PROFILES;

/** Bytes of K and V one token occupies across all layers (whole model, all TP ranks). */
export function kvBytesPerToken(model: ModelProfile): number {
  return 2 * model.layers * model.kvHeads * model.headDim * model.dtypeBytes;
}
