import { TandemError } from '../../../common/errors.ts';
import type { KvBlockPool } from '../kv/block-pool.ts';
import { createKvBlockLayout, kvRowOffset, type KvBlockLayout } from '../kv/layout.ts';
import { assertCapacity } from '../kv/sequence.ts';
import { resolveModelConfig, type ReferenceModelConfig } from './config.ts';
import { addInPlace, applyRope, matVec, rmsNorm, ropeAngles, ropeInverseFrequencies, swiGlu } from './kernels.ts';
import { createPagedAttention } from './paged-attention.ts';
import { embeddingRow, outputVocabulary } from './token-map.ts';
import { generateWeights } from './weights.ts';

/**
 * A tiny decoder-only transformer (Llama/Qwen shape: RMSNorm, RoPE, grouped-query attention,
 * SiLU-gated MLP, pre-norm residuals) whose weights come from a seed, running over a paged KV
 * cache of float32 blocks. Not trained: its outputs are arbitrary but exactly reproducible,
 * which is all a test of KV transfer needs.
 */
export interface ReferenceModel {
  readonly config: ReferenceModelConfig;
  /** The output vocabulary, ascending: logits[i] scores outputIds[i]. */
  readonly outputIds: readonly number[];
  readonly eosId: number;
  /** The KV block layout for blocks of `blockSize` positions (layers, KV heads, head dim). */
  kvLayout(blockSize: number): KvBlockLayout;
  /**
   * Runs `tokenIds` at positions startPosition .. startPosition + n - 1 of one sequence. KV for
   * positions < startPosition must already be in `blockTable`; each new position's K/V is
   * written into it (the table must cover startPosition + n positions). Returns the float32
   * logits of the last token over `outputIds`. Synchronous; at the default size about 0.4 ms
   * of CPU per token averaged over a 2,000-token prompt (attention grows with the context).
   *
   * Throws invalid_request for an id outside [0, inputVocabSize) or past maxModelLen, and
   * failed_precondition when the pool's layout does not match the model.
   */
  forward(
    pool: KvBlockPool,
    blockTable: readonly number[],
    startPosition: number,
    tokenIds: readonly number[],
  ): Float32Array;
  /** Greedy choice: the output id with the largest logit, ties to the lowest id. */
  greedy(logits: Float32Array): number;
}

export function createReferenceModel(input: Partial<ReferenceModelConfig> = {}): ReferenceModel {
  const config = resolveModelConfig(input);
  const outputIds = outputVocabulary(config);
  const weights = generateWeights(config, outputIds.length);
  const { hiddenSize: hidden, numHeads, numKvHeads, headDim, intermediateSize, numLayers } = config;
  const qWidth = numHeads * headDim;
  const kvWidth = numKvHeads * headDim;

  // Scratch, reused by every call (forward is synchronous, so never shared by two calls).
  const x = new Float64Array(hidden);
  const normed = new Float64Array(hidden);
  const q = new Float64Array(qWidth);
  const k = new Float64Array(kvWidth);
  const v = new Float64Array(kvWidth);
  const attnOut = new Float64Array(qWidth);
  const projected = new Float64Array(hidden);
  const gate = new Float64Array(intermediateSize);
  const up = new Float64Array(intermediateSize);
  const logits64 = new Float64Array(outputIds.length);
  const invFreq = ropeInverseFrequencies(headDim, config.ropeTheta);
  const cos = new Float64Array(headDim / 2);
  const sin = new Float64Array(headDim / 2);
  const attention = createPagedAttention(numHeads, numKvHeads, headDim);

  const checkPool = (pool: KvBlockPool) => {
    const l = pool.layout;
    if (l.numLayers !== numLayers || l.numKvHeads !== numKvHeads || l.headDim !== headDim || l.dtype !== 'float32') {
      throw new TandemError(
        'failed_precondition',
        `KV pool layout (${l.numLayers} layers, ${l.numKvHeads} KV heads, head dim ${l.headDim}) does not match the model (${numLayers}, ${numKvHeads}, ${headDim})`,
      );
    }
  };

  /** One token through every layer; leaves the final residual stream in `x`. */
  const step = (pool: KvBlockPool, blockTable: readonly number[], position: number, tokenId: number) => {
    const { layout, data } = pool;
    const row = embeddingRow(tokenId, config.embeddingRows) * hidden;
    for (let i = 0; i < hidden; i++) x[i] = weights.embedding[row + i]!;
    ropeAngles(position, invFreq, cos, sin);
    const blockBase = pool.blockOffset(blockTable[Math.floor(position / layout.blockSize)]!);
    const slot = position % layout.blockSize;
    for (let l = 0; l < numLayers; l++) {
      const w = weights.layers[l]!;
      rmsNorm(x, w.attnNorm, config.rmsNormEps, normed);
      matVec(w.wq, normed, q, qWidth, hidden);
      matVec(w.wk, normed, k, kvWidth, hidden);
      matVec(w.wv, normed, v, kvWidth, hidden);
      applyRope(q, numHeads, headDim, cos, sin);
      applyRope(k, numKvHeads, headDim, cos, sin);
      for (let g = 0; g < numKvHeads; g++) {
        const kRow = blockBase + kvRowOffset(layout, l, 0, g, slot);
        const vRow = blockBase + kvRowOffset(layout, l, 1, g, slot);
        for (let d = 0; d < headDim; d++) {
          data[kRow + d] = k[g * headDim + d]!;
          data[vRow + d] = v[g * headDim + d]!;
        }
      }
      attention.attend(pool, blockTable, l, position, q, attnOut);
      matVec(w.wo, attnOut, projected, hidden, qWidth);
      addInPlace(x, projected, hidden);
      rmsNorm(x, w.mlpNorm, config.rmsNormEps, normed);
      matVec(w.wGate, normed, gate, intermediateSize, hidden);
      matVec(w.wUp, normed, up, intermediateSize, hidden);
      swiGlu(gate, up, intermediateSize);
      matVec(w.wDown, gate, projected, hidden, intermediateSize);
      addInPlace(x, projected, hidden);
    }
  };

  return {
    config,
    outputIds,
    eosId: config.eosId,
    kvLayout: (blockSize) => createKvBlockLayout({ numLayers, numKvHeads, headDim, blockSize }),
    forward(pool, blockTable, startPosition, tokenIds) {
      checkPool(pool);
      if (tokenIds.length === 0) throw new TandemError('invalid_request', 'forward needs at least one token');
      if (!Number.isInteger(startPosition) || startPosition < 0)
        throw new TandemError('invalid_request', `bad start position ${startPosition}`);
      const end = startPosition + tokenIds.length;
      if (end > config.maxModelLen) {
        throw new TandemError(
          'context_length_exceeded',
          `${end} positions exceed the reference model's ${config.maxModelLen}`,
        );
      }
      for (const id of tokenIds) {
        if (!Number.isInteger(id) || id < 0 || id >= config.inputVocabSize) {
          throw new TandemError('invalid_request', `token id ${id} is outside [0, ${config.inputVocabSize})`, {
            param: 'token_ids',
          });
        }
      }
      assertCapacity(blockTable, end, pool.layout.blockSize);
      for (let i = 0; i < tokenIds.length; i++) step(pool, blockTable, startPosition + i, tokenIds[i]!);
      rmsNorm(x, weights.finalNorm, config.rmsNormEps, normed);
      matVec(weights.lmHead, normed, logits64, outputIds.length, hidden);
      return Float32Array.from(logits64);
    },
    greedy(logits) {
      if (logits.length !== outputIds.length)
        throw new TandemError('internal', `expected ${outputIds.length} logits, got ${logits.length}`);
      let best = 0;
      for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
      return outputIds[best]!;
    },
  };
}
