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
}

export function createTokenSampler(options: TokenSamplerOptions): TokenSampler {
  const { firstSpecialTokenId, eosTokenId, eosProbability } = options;
  return {
    sample(seedWord, index, minTokens, ignoreEos) {
      const base = mix32(seedWord ^ Math.imul(index + 1, 0x9e3779b9));
      if (eosProbability > 0 && !ignoreEos && index >= minTokens) {
        const u = mix32(base ^ 0x5bd1e995) / 4294967296;
        if (u < eosProbability) return eosTokenId;
      }
      return Math.floor((mix32(base) / 4294967296) * firstSpecialTokenId);
    },
  };
}

/**
 * The seed word of a request's token stream: its sampling seed when it has one; else, for greedy
 * requests (temperature 0), the prompt itself, since greedy decoding of one prompt gives one
 * output (and a prefill and a decode worker then agree without sharing a request id); else the
 * request id.
 */
export function seedWordFor(requestId: string, promptTokenIds: readonly number[], seed: number | bigint | undefined, temperature: number): number {
  if (seed !== undefined) return mix32(fnv1aText(`seed:${String(seed)}`));
  if (temperature === 0) {
    let h = 0x811c9dc5;
    for (const token of promptTokenIds) h = Math.imul(h ^ token, 0x01000193);
    return mix32(h ^ promptTokenIds.length);
  }
  return mix32(fnv1aText(`request:${requestId}`));
}

function fnv1aText(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** murmur3's 32-bit finaliser: a bijective avalanche mix; unsigned result. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
