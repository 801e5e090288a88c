import {
  forwardSeconds,
  prefillSeconds,
  type BatchShape,
  type EngineProfile,
  type PrefillChunk,
} from '../../common/profiles/index.ts';
import type { CostTerms } from './types.ts';

/**
 * The kv policy's cost, in seconds from each worker's GPU x model profile (common/profiles'
 * roofline), so an H100 and an L40S holding the same prefix are compared by how long the work
 * takes on each, not by token counts. Dynamo's cost, `w * prefill_blocks + decode_blocks`,
 * translated into time:
 *
 * - queue:   prefill tokens already queued on the worker x its seconds per prefill token;
 * - prefill: this request's uncached tokens, prefilled with attention over the cached part;
 * - decode:  the horizon (output tokens looked ahead) x one decode step at the batch the worker
 *            would run with this request added (its in-flight requests + 1, over their KV).
 *
 * total = prefillWeight x (queue + prefill) + decodeWeight x decode.
 */
export interface CostWeights {
  readonly prefillWeight: number;
  readonly decodeWeight: number;
}

export interface CostInput {
  readonly promptTokens: number;
  readonly cachedTokens: number;
  readonly queuedPrefillTokens: number;
  readonly inflightRequests: number;
  readonly activeDecodeBlocks: number;
  readonly blockSize: number;
  /** Output tokens the decode term covers. */
  readonly horizonTokens: number;
}

/** Tokens per reference prefill chunk used for the per-token queue rate (vLLM's default max_num_batched_tokens). */
const QUEUE_CHUNK_TOKENS = 2048;
const perTokenCache = new WeakMap<EngineProfile, number>();

/** Seconds per queued prefill token on `profile` (a 2048-token chunk's time / 2048), memoised per profile object. */
export function prefillSecondsPerToken(profile: EngineProfile): number {
  let rate = perTokenCache.get(profile);
  if (rate === undefined) {
    rate = prefillSeconds(profile, QUEUE_CHUNK_TOKENS) / QUEUE_CHUNK_TOKENS;
    perTokenCache.set(profile, rate);
  }
  return rate;
}

// Reused batch shapes (the router calls this for every candidate of every decision; fresh
// objects per call were most of its garbage). forwardSeconds only reads them.
type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const prefillChunk: Mutable<PrefillChunk> = { newTokens: 0, contextTokens: 0 };
const prefillShape: Mutable<BatchShape> = { prefill: [prefillChunk], decodeSequences: 0, decodeContextTokens: 0 };
const decodeShape: Mutable<BatchShape> = { prefill: [], decodeSequences: 0, decodeContextTokens: 0 };

export function estimateCost(profile: EngineProfile, input: CostInput, weights: CostWeights): CostTerms {
  const queueSeconds = input.queuedPrefillTokens * prefillSecondsPerToken(profile);
  let prefill = 0;
  if (input.promptTokens > input.cachedTokens) {
    // = prefillSeconds(profile, promptTokens, cachedTokens)
    prefillChunk.newTokens = input.promptTokens - input.cachedTokens;
    prefillChunk.contextTokens = input.cachedTokens;
    prefill = forwardSeconds(profile, prefillShape);
  }
  let decodeSeconds = 0;
  if (input.horizonTokens > 0) {
    // = horizon x decodeStepSeconds(profile, batch, meanContext)
    decodeShape.decodeSequences = input.inflightRequests + 1;
    decodeShape.decodeContextTokens = input.activeDecodeBlocks * input.blockSize + input.promptTokens;
    decodeSeconds = input.horizonTokens * forwardSeconds(profile, decodeShape);
  }
  return {
    queueSeconds,
    prefillSeconds: prefill,
    decodeSeconds,
    totalSeconds: weights.prefillWeight * (queueSeconds + prefill) + weights.decodeWeight * decodeSeconds,
  };
}
