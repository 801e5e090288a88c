import { createRng, type Rng } from '../../../common/rng.ts';
import type { ReferenceModelConfig } from './config.ts';

/** One decoder layer's tensors; matrices are row-major [out][in] float32. */
export interface LayerWeights {
  /** RMSNorm gain before attention, [hiddenSize]. */
  readonly attnNorm: Float32Array;
  /** [numHeads * headDim][hiddenSize] */
  readonly wq: Float32Array;
  /** [numKvHeads * headDim][hiddenSize] */
  readonly wk: Float32Array;
  readonly wv: Float32Array;
  /** [hiddenSize][numHeads * headDim] */
  readonly wo: Float32Array;
  /** RMSNorm gain before the MLP, [hiddenSize]. */
  readonly mlpNorm: Float32Array;
  /** [intermediateSize][hiddenSize] */
  readonly wGate: Float32Array;
  readonly wUp: Float32Array;
  /** [hiddenSize][intermediateSize] */
  readonly wDown: Float32Array;
}

export interface ModelWeights {
  /** [embeddingRows][hiddenSize] */
  readonly embedding: Float32Array;
  readonly layers: readonly LayerWeights[];
  /** [hiddenSize] */
  readonly finalNorm: Float32Array;
  /** [outputVocabularySize][hiddenSize] */
  readonly lmHead: Float32Array;
}

/**
 * Weights from the config's seed: each tensor draws from its own stream
 * `rng.fork("<tensor name>")`, so changing one tensor's shape leaves the others unchanged.
 * Matrices are N(0, 1/fan_in) (activations keep unit scale), norm gains 1 + N(0, 0.1^2).
 */
/**
 * Query and key matrices are drawn QK_GAIN times wider, so attention scores have a standard
 * deviation of about QK_GAIN^2 instead of 1: attention is peaked rather than near-uniform, and
 * greedy output depends on the particular KV in context. Replacing one block of a 663-token
 * prompt with a copy of its neighbour changes the next 24 greedy tokens in 39 of 40 cases with
 * gain 2, 24 of 40 with gain 1; comparing token streams then checks the KV that was moved.
 * (Swapping two full blocks changes nothing either way: each K row carries its own RoPE
 * rotation, and attention sums over positions in any order up to float rounding.)
 */
const QK_GAIN = 2;

export function generateWeights(config: ReferenceModelConfig, outputVocabularySize: number): ModelWeights {
  const root = createRng(`tandem-reference/${String(config.seed)}`);
  const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize: m } = config;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const name = (t: string) => `layer${l}.${t}`;
    layers.push({
      attnNorm: gains(root.fork(name('attn_norm')), h),
      wq: matrix(root.fork(name('wq')), numHeads * headDim, h, QK_GAIN),
      wk: matrix(root.fork(name('wk')), numKvHeads * headDim, h, QK_GAIN),
      wv: matrix(root.fork(name('wv')), numKvHeads * headDim, h),
      wo: matrix(root.fork(name('wo')), h, numHeads * headDim),
      mlpNorm: gains(root.fork(name('mlp_norm')), h),
      wGate: matrix(root.fork(name('w_gate')), m, h),
      wUp: matrix(root.fork(name('w_up')), m, h),
      wDown: matrix(root.fork(name('w_down')), h, m),
    });
  }
  return {
    embedding: normal(root.fork('embedding'), config.embeddingRows * h, 0, 1),
    layers,
    finalNorm: gains(root.fork('final_norm'), h),
    lmHead: matrix(root.fork('lm_head'), outputVocabularySize, h),
  };
}

function matrix(rng: Rng, rows: number, cols: number, gain = 1): Float32Array {
  return normal(rng, rows * cols, 0, gain / Math.sqrt(cols));
}

function gains(rng: Rng, size: number): Float32Array {
  return normal(rng, size, 1, 0.1);
}

function normal(rng: Rng, size: number, mean: number, sd: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.normal(mean, sd);
  return out;
}
