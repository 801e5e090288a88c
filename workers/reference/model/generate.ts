import { TandemError } from '../../../common/errors.ts';
import type { KvBlockPool } from '../kv/block-pool.ts';
import { ensureCapacity, type SequenceBlocks } from '../kv/sequence.ts';
import type { ReferenceModel } from './model.ts';

/**
 * Single-sequence drivers over ReferenceModel.forward, for tests, benchmarks and a simple
 * engine. A batching engine calls `forward` from its own scheduler instead; these add nothing
 * the model does not already guarantee.
 */

/** Returns a free block id, or throws when none is left (the block manager in production). */
export type AllocateBlock = () => number;

/**
 * Computes `tokenIds` after the sequence's existing positions, `chunkSize` tokens per forward
 * call (the result does not depend on it), growing the table as needed. Returns the last
 * token's logits and advances `sequence.numTokens`.
 */
export function prefillSequence(
  model: ReferenceModel,
  pool: KvBlockPool,
  sequence: SequenceBlocks,
  tokenIds: readonly number[],
  allocateBlock: AllocateBlock,
  chunkSize = Number.POSITIVE_INFINITY,
): Float32Array {
  if (tokenIds.length === 0) throw new TandemError('invalid_request', 'prefill needs at least one token');
  if (!(chunkSize >= 1)) throw new TandemError('invalid_request', `chunk size must be >= 1, got ${chunkSize}`);
  let logits: Float32Array | undefined;
  for (let start = 0; start < tokenIds.length; start += chunkSize) {
    const chunk = tokenIds.slice(start, Math.min(tokenIds.length, start + chunkSize));
    ensureCapacity(sequence, sequence.numTokens + chunk.length, pool.layout.blockSize, allocateBlock);
    logits = model.forward(pool, sequence.blockTable, sequence.numTokens, chunk);
    sequence.numTokens += chunk.length;
  }
  return logits!;
}

export interface GreedyDecodeOptions {
  /** Tokens to emit at most, >= 1 (the first one, chosen from `lastLogits`, included). */
  readonly maxTokens: number;
  /** Keep going past EOS. */
  readonly ignoreEos?: boolean;
  /** Stop after emitting any of these (besides EOS). */
  readonly stopTokenIds?: readonly number[];
  readonly allocateBlock: AllocateBlock;
}

export interface GreedyDecodeResult {
  readonly tokenIds: number[];
  /** `stop`: EOS or a stop id was emitted (and is included); `length`: maxTokens reached. */
  readonly finishReason: 'stop' | 'length';
}

/**
 * Greedy decoding from the logits of the sequence's last computed position: emits argmax, feeds
 * it back, repeats. Each emitted token but the last is written into the sequence's KV, so
 * `sequence.numTokens` ends at prompt + emitted - 1.
 */
export function decodeGreedy(
  model: ReferenceModel,
  pool: KvBlockPool,
  sequence: SequenceBlocks,
  lastLogits: Float32Array,
  options: GreedyDecodeOptions,
): GreedyDecodeResult {
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) {
    throw new TandemError('invalid_request', `maxTokens must be >= 1, got ${options.maxTokens}`, {
      param: 'max_tokens',
    });
  }
  const stops = new Set(options.stopTokenIds ?? []);
  if (options.ignoreEos !== true) stops.add(model.eosId);
  const tokenIds: number[] = [];
  let logits = lastLogits;
  for (;;) {
    const token = model.greedy(logits);
    tokenIds.push(token);
    if (stops.has(token)) return { tokenIds, finishReason: 'stop' };
    if (tokenIds.length >= options.maxTokens) return { tokenIds, finishReason: 'length' };
    logits = prefillSequence(model, pool, sequence, [token], options.allocateBlock);
  }
}
