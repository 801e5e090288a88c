import { TandemError } from '../../common/errors.ts';
import type { Rng } from '../../common/rng.ts';

/** Qwen3's vocabulary size (every id a request carries lies below it). */
export const VOCAB_SIZE = 151_936;
/** Ids at and above this are Qwen3's special and added tokens (<|endoftext|> = 151643): never drawn. */
export const REGULAR_VOCAB = 151_643;

/**
 * The inverse CDF of the token law at 2^16 + 1 points: INVERSE_CDF[i] is the id at cumulative
 * probability i / 2^16. Ids follow a log-uniform (Zipf, s = 1) law over the regular vocabulary,
 * P(id = k) = ln((k + 2) / (k + 1)) / ln(151644): low ids, which byte-level BPE gives its
 * earliest and most frequent merges, are the most common, as in text.
 */
const INVERSE_CDF = (() => {
  const table = new Uint32Array(65537);
  const logVocab = Math.log(REGULAR_VOCAB + 1);
  for (let i = 0; i < 65536; i++) table[i] = Math.floor(Math.exp((i / 65536) * logVocab)) - 1;
  table[65536] = REGULAR_VOCAB;
  return table;
})();

/**
 * Writes `count` token ids into `out` from `offset`, following the law above (the CDF is linear
 * between the table's points, so probabilities are exact to 2^-16). Takes two draws from `rng`
 * to seed a local xorshift32 + Weyl generator: about 7 ns a token, the simulator's budget.
 */
export function fillTokens(rng: Rng, out: Uint32Array, offset: number, count: number): void {
  let state = (rng.int(4294967296) ^ 0x9e3779b9) | 1;
  let weyl = rng.int(4294967296) | 0;
  const end = offset + count;
  for (let i = offset; i < end; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    weyl = (weyl + 0x6d2b79f5) | 0;
    const u = (state ^ weyl) >>> 0;
    const at = u >>> 16;
    const low = INVERSE_CDF[at]!;
    out[i] = low + (((INVERSE_CDF[at + 1]! - low) * (u & 0xffff)) >>> 16);
  }
}

/**
 * The requests that diverge from a common prefix at the same position (users after a group's
 * system prompt, questions after a document). Each new segment starts with a token no sibling
 * started with, so two prompts share exactly their common prefix and not one token more: that
 * keeps every workload's `sharedPrefixTokens` exact. Holds one id per sibling.
 */
export interface BranchPoint {
  /** A first token no sibling has used yet, drawn uniformly from the regular vocabulary. */
  freshFirstToken(rng: Rng): number;
}

/** Ids a branch point keeps in a Set before it switches to a bitset over the vocabulary (19 KB). */
const SET_LIMIT = 1024;

export function createBranchPoint(): BranchPoint {
  // Most branch points see a few siblings (a Set is small); some see 100,000 (a bitset is fast).
  let used: Set<number> | null = new Set<number>();
  let bits: Uint32Array | null = null;
  let size = 0;
  const has = (id: number) => (bits ? (bits[id >>> 5]! & (1 << (id & 31))) !== 0 : used!.has(id));
  const add = (id: number) => {
    size++;
    if (bits) bits[id >>> 5]! |= 1 << (id & 31);
    else used!.add(id);
    if (used && size > SET_LIMIT) {
      bits = new Uint32Array(Math.ceil(REGULAR_VOCAB / 32));
      for (const seen of used) bits[seen >>> 5]! |= 1 << (seen & 31);
      used = null;
    }
  };
  return {
    freshFirstToken(rng) {
      if (size >= REGULAR_VOCAB)
        throw new TandemError(
          'invalid_request',
          `more than ${REGULAR_VOCAB} segments branch at one point: no distinct first token is left`,
        );
      for (;;) {
        const id = rng.int(REGULAR_VOCAB);
        if (!has(id)) {
          add(id);
          return id;
        }
      }
    },
  };
}

/** A new segment of `count` tokens (>= 1) whose first token is fresh at `branch`. */
export function freshSegment(rng: Rng, count: number, branch: BranchPoint): Uint32Array {
  const out = new Uint32Array(count);
  if (count === 0) return out;
  out[0] = branch.freshFirstToken(rng);
  fillTokens(rng, out, 1, count - 1);
  return out;
}

/** `a` followed by `b`, in a new array. */
export function concatTokens(...parts: readonly Uint32Array[]): Uint32Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint32Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * An append-only token history (a conversation, an agent's context). `view()` returns the
 * history so far without copying; earlier views stay valid and unchanged as it grows, so every
 * turn of a conversation shares one buffer. Growth doubles the buffer (amortised O(1) a token).
 */
export interface TokenHistory {
  readonly length: number;
  append(tokens: Uint32Array): void;
  /** Appends `count` drawn tokens; the first is fresh at `branch` when one is given. */
  appendDrawn(rng: Rng, count: number, branch?: BranchPoint): void;
  view(): Uint32Array;
}

export function createTokenHistory(initialCapacity = 1024): TokenHistory {
  let buffer = new Uint32Array(Math.max(16, initialCapacity));
  let length = 0;
  const reserve = (extra: number) => {
    if (length + extra <= buffer.length) return;
    let capacity = buffer.length;
    while (capacity < length + extra) capacity *= 2;
    const next = new Uint32Array(capacity);
    next.set(buffer.subarray(0, length));
    buffer = next;
  };
  return {
    get length() {
      return length;
    },
    append(tokens) {
      reserve(tokens.length);
      buffer.set(tokens, length);
      length += tokens.length;
    },
    appendDrawn(rng, count, branch) {
      if (count <= 0) return;
      reserve(count);
      let start = length;
      if (branch) buffer[start++] = branch.freshFirstToken(rng);
      fillTokens(rng, buffer, start, length + count - start);
      length += count;
    },
    view: () => buffer.subarray(0, length),
  };
}

/** Uniform integer in [min, max]. */
export function intBetween(rng: Rng, min: number, max: number): number {
  return min + rng.int(max - min + 1);
}
