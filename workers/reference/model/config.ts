import { TandemError } from '../../../common/errors.ts';

/**
 * The reference model's shape. Every process given the same config (seed included) builds
 * bit-identical weights, so prefill and decode workers hold the same model without shipping
 * any files.
 */
export interface ReferenceModelConfig {
  /** Seeds every weight (through common/rng.ts, one forked stream per tensor). */
  readonly seed: number | string;
  readonly numLayers: number;
  /** Width of the residual stream. */
  readonly hiddenSize: number;
  /** Query heads; a multiple of numKvHeads (grouped-query attention). */
  readonly numHeads: number;
  readonly numKvHeads: number;
  /** Per-head width; a multiple of 4 (attention runs over 4-dim groups; RoPE rotates pairs). */
  readonly headDim: number;
  /** Width of the gated MLP's hidden layer. */
  readonly intermediateSize: number;
  /** Input token ids must lie in [0, inputVocabSize): Qwen3's 151936 by default. */
  readonly inputVocabSize: number;
  /** Rows of the (small) embedding table input ids are hashed into; see token-map.ts. */
  readonly embeddingRows: number;
  /** The output vocabulary is ids firstOutputId .. firstOutputId + outputIdCount - 1, plus eosId. */
  readonly firstOutputId: number;
  readonly outputIdCount: number;
  /** End-of-sequence id, always part of the output vocabulary (Qwen3's <|im_end|> by default). */
  readonly eosId: number;
  /** RoPE base frequency. */
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  /** Longest sequence (prompt + output), tokens. */
  readonly maxModelLen: number;
}

/**
 * Small enough that a 2,000-token prompt prefills in about 0.7-0.9 s of CPU on this project's
 * 2-core build machine (bench/engine/reference-prefill.ts; attention is quadratic, so the cost is set
 * by layers x heads), big enough to have GQA (2 query heads per KV head, 2 KV heads) and
 * several layers. A 16-token block is 3 x 2 x 2 x 16 x 8 float32 = 6144 bytes. Output ids 5000..5254 are ordinary Qwen3 word pieces (" difficult", " coming", ...).
 */
export const DEFAULT_REFERENCE_MODEL_CONFIG: ReferenceModelConfig = Object.freeze({
  seed: 0,
  numLayers: 3,
  hiddenSize: 32,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  intermediateSize: 64,
  inputVocabSize: 151936,
  embeddingRows: 1024,
  firstOutputId: 5000,
  outputIdCount: 255,
  eosId: 151645,
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
  maxModelLen: 32768,
});

/** Fills defaults and checks the shape; throws invalid_request naming the field. */
export function resolveModelConfig(input: Partial<ReferenceModelConfig> = {}): ReferenceModelConfig {
  const config: ReferenceModelConfig = { ...DEFAULT_REFERENCE_MODEL_CONFIG, ...input };
  const positive = [
    'numLayers',
    'hiddenSize',
    'numHeads',
    'numKvHeads',
    'headDim',
    'intermediateSize',
    'inputVocabSize',
    'embeddingRows',
    'outputIdCount',
    'maxModelLen',
  ] as const;
  for (const key of positive) {
    const value = config[key];
    if (!Number.isInteger(value) || value <= 0) bad(key, `must be a positive integer, got ${value}`);
  }
  if (config.numHeads % config.numKvHeads !== 0)
    bad('numHeads', `must be a multiple of numKvHeads (${config.numKvHeads}), got ${config.numHeads}`);
  if (config.headDim % 4 !== 0) bad('headDim', `must be a multiple of 4, got ${config.headDim}`);
  const lastOutputId = config.firstOutputId + config.outputIdCount - 1;
  if (!Number.isInteger(config.firstOutputId) || config.firstOutputId < 0 || lastOutputId >= config.inputVocabSize) {
    bad(
      'firstOutputId',
      `output ids ${config.firstOutputId}..${lastOutputId} must lie in [0, ${config.inputVocabSize})`,
    );
  }
  if (!Number.isInteger(config.eosId) || config.eosId < 0 || config.eosId >= config.inputVocabSize) {
    bad('eosId', `must lie in [0, ${config.inputVocabSize}), got ${config.eosId}`);
  }
  if (!(config.ropeTheta > 1)) bad('ropeTheta', `must be > 1, got ${config.ropeTheta}`);
  if (!(config.rmsNormEps > 0)) bad('rmsNormEps', `must be > 0, got ${config.rmsNormEps}`);
  return Object.freeze(config);
}

function bad(field: string, text: string): never {
  throw new TandemError('invalid_request', `reference model ${field} ${text}`, { param: field });
}
