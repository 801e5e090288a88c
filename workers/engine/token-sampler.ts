import { fmix32 } from '../../common/fmix32.ts';
import { sampleFromLogits, type LogitsSampling, type PenaltyHistory, type Sampled } from './logits-sampler.ts';

/**
 * Deterministic output tokens for the simulated engine. Token i of a request is a pure function
 * of (request seed, i), so a preempted and recomputed request, or a request split across a
 * prefill and a decode worker, produces the same tokens as one that ran straight through.
 *
 * Tokens are ordinary text ids, uniform in [0, firstSpecialTokenId). End-of-sequence: with
 * `eosProbability` p > 0, each position at or past `minTokens` is the model's EOS with
 * probability p (geometric output lengths, mean about 1/p); p = 0, the default, never samples
 * EOS, so a request runs to max_tokens or a stop id, which is what benchmarks that set
 * ignore_eos get and keeps output lengths under the client's control. ignore_eos suppresses
 * sampled EOS as well.
 */
export interface TokenSamplerOptions {
  readonly firstSpecialTokenId: number;
  /** The EOS id the sampler emits (the model's first EOS id). */
  readonly eosTokenId: number;
  /** Per-token probability of EOS, in [0, 1]. */
  readonly eosProbability: number;
}

export interface TokenSampler {
  /** Token `index` (0-based output position) of the stream seeded by `seedWord`. */
  sample(seedWord: number, index: number, minTokens: number, ignoreEos: boolean): number;
  /**
   * Token `index` from the synthetic distribution (below), shaped by the request's sampling
   * parameters and penalised by `history`: for requests that ask for top-k, min-p, penalties or
   * logprobs. Still a pure function of (seed, index, history).
   */
  sampleShaped(
    seedWord: number,
    index: number,
    minTokens: number,
    ignoreEos: boolean,
    shaping: LogitsSampling,
    history: PenaltyHistory | null,
    context: readonly number[],
  ): Sampled;
}

/**
 * The synthetic distribution behind `sampleShaped`, plausible in shape and documented as made
 * up: at each position, SHAPED_CANDIDATES candidate tokens with logits falling by
 * SHAPED_LOGIT_STEP per rank (the best has probability ~0.26 at temperature 1, the top 5 ~0.8).
 * Ranks 1 and 2 copy a token of the context (prompt or output, chosen by the seed), since real
 * models repeat their context, which is what penalties act on; the others are fresh text ids.
 * Every other token has probability 0. Logprobs are this distribution's.
 */
export const SHAPED_CANDIDATES = 32;
export const SHAPED_LOGIT_STEP = 0.3;

export function createTokenSampler(options: TokenSamplerOptions): TokenSampler {
  const { firstSpecialTokenId, eosTokenId, eosProbability } = options;
  const ids: number[] = [];
  const logits: number[] = [];
  return {
    sample(seedWord, index, minTokens, ignoreEos) {
      const base = mix32(seedWord ^ Math.imul(index + 1, 0x9e3779b9));
      if (eosProbability > 0 && !ignoreEos && index >= minTokens) {
        const u = mix32(base ^ 0x5bd1e995) / 4294967296;
        if (u < eosProbability) return eosTokenId;
      }
      return Math.floor((mix32(base) / 4294967296) * firstSpecialTokenId);
    },
    sampleShaped(seedWord, index, minTokens, ignoreEos, shaping, history, context) {
      const base = mix32(seedWord ^ Math.imul(index + 1, 0x9e3779b9));
      ids.length = 0;
      logits.length = 0;
      const seen = new Set<number>();
      for (let rank = 0; ids.length < SHAPED_CANDIDATES && rank < 4 * SHAPED_CANDIDATES; rank++) {
        const word = mix32(base ^ Math.imul(rank + 1, 0x27d4eb2f));
        const copy = (ids.length === 1 || ids.length === 2) && context.length > 0;
        const id = copy ? context[word % context.length]! : Math.floor((word / 4294967296) * firstSpecialTokenId);
        if (seen.has(id)) continue;
        seen.add(id);
        ids.push(id);
        logits.push(-SHAPED_LOGIT_STEP * ids.length);
      }
      // EOS, when the engine samples it at all, with the same per-position probability as `sample`.
      if (eosProbability > 0 && !ignoreEos && index >= minTokens && !seen.has(eosTokenId)) {
        let z = 0;
        for (const x of logits) z += Math.exp(x);
        ids.push(eosTokenId);
        logits.push(Math.log((eosProbability * z) / (1 - Math.min(eosProbability, 0.999999))));
      }
      return sampleFromLogits(ids, logits, shaping, history, mix32(base ^ 0x68e31da4) / 4294967296);
    },
  };
}

/**
 * The seed word of a request's token stream: its sampling seed when it has one; else, for greedy
 * requests (temperature 0), the prompt itself, since greedy decoding of one prompt gives one
 * output (and a prefill and a decode worker then agree without sharing a request id); else the
 * request id.
 */
export function seedWordFor(
  requestId: string,
  promptTokenIds: readonly number[],
  seed: number | bigint | undefined,
  temperature: number,
): number {
  if (seed !== undefined) return mix32(fnv1aText(`seed:${String(seed)}`));
  if (temperature === 0) {
    let h = 0x811c9dc5;
    for (const token of promptTokenIds) h = Math.imul(h ^ token, 0x01000193);
    return mix32(h ^ promptTokenIds.length);
  }
  return mix32(fnv1aText(`request:${requestId}`));
}

/** A uniform draw in [0, 1) for output position `index` of the stream seeded by `seedWord`. */
export function uniformAt(seedWord: number, index: number): number {
  return mix32(mix32(seedWord ^ Math.imul(index + 1, 0x9e3779b9)) ^ 0x68e31da4) / 4294967296;
}

function fnv1aText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** murmur3's 32-bit finaliser (common/fmix32.ts) as an unsigned word, which the draws divide by 2^32. */
function mix32(x: number): number {
  return fmix32(x) >>> 0;
}
