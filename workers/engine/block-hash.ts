import { hash } from 'node:crypto';
import { CborWriter, type CborValue } from './cbor.ts';

/**
 * vLLM's prefix-caching block hash with `--prefix-caching-hash-algo sha256_cbor`
 * (vllm/v1/core/kv_cache_utils.py `hash_block_tokens`, vllm/utils/hashing.py):
 *
 *   NONE_HASH  = sha256(cbor(seed))                 seed = PYTHONHASHSEED as a string, e.g. "0"
 *   block hash = sha256(cbor([parent, [tokens...], extra_keys]))   parent = 32-byte digest,
 *                                                                  NONE_HASH for the first block
 *
 * KV events carry the last 8 bytes of the digest as an unsigned 64-bit int (vLLM's default
 * VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1). The seed makes an engine's hashes differ from the
 * router's own, so the router must map them from BlockStored's token ids, as with real vLLM.
 */
export interface BlockHash {
  /** The 32-byte digest as a latin1 string (one char per byte): a cheap, exact Map key. */
  readonly key: string;
  /** The digest's bytes. */
  readonly digest: Buffer;
  /** The event form: the digest's last 8 bytes, big-endian, as an unsigned 64-bit int. */
  readonly value: bigint;
}

/** Scratch for LazyBlockHash.value (synchronous use only). */
const VALUE_VIEW = new DataView(new ArrayBuffer(8));

/** Computes the bigint and Buffer forms only when asked: most hashes are only ever Map keys. */
class LazyBlockHash implements BlockHash {
  private cachedValue: bigint | undefined;
  constructor(readonly key: string) {}
  get digest(): Buffer {
    return Buffer.from(this.key, 'latin1');
  }
  get value(): bigint {
    if (this.cachedValue === undefined) {
      const k = this.key;
      // Through an 8-byte view: one bigint allocated instead of four (two halves, shift, or).
      VALUE_VIEW.setUint32(
        0,
        (k.charCodeAt(24) << 24) | (k.charCodeAt(25) << 16) | (k.charCodeAt(26) << 8) | k.charCodeAt(27),
      );
      VALUE_VIEW.setUint32(
        4,
        (k.charCodeAt(28) << 24) | (k.charCodeAt(29) << 16) | (k.charCodeAt(30) << 8) | k.charCodeAt(31),
      );
      this.cachedValue = VALUE_VIEW.getBigUint64(0);
    }
    return this.cachedValue;
  }
}

export interface VllmBlockHasher {
  /** The seed string NONE_HASH was derived from. */
  readonly seed: string;
  /** sha256(cbor(seed)), the parent of every sequence's first block. */
  readonly noneHash: Buffer;
  /**
   * The hash of the block holding `tokens[start, end)` whose predecessor is `parent` (null for
   * a sequence's first block). `extraKeys` is vLLM's per-block extra key tuple (LoRA name,
   * multimodal hashes, cache salt) or null when there are none, which is the common case.
   */
  hashBlock(
    parent: BlockHash | null,
    tokens: ArrayLike<number>,
    start: number,
    end: number,
    extraKeys?: CborValue,
  ): BlockHash;
  /**
   * Extends `chain` (the hashes of the first chain.length full blocks of `tokens`) with the
   * hashes of every further full block of `blockSize` tokens; returns `chain`. A trailing
   * partial block is never hashed. Only blocks within the first `memoTokens` tokens (default:
   * all) use the memo: pass the prompt length, since generated blocks rarely repeat.
   */
  extendChain(chain: BlockHash[], tokens: ArrayLike<number>, blockSize: number, memoTokens?: number): BlockHash[];
}

/** One memoised block: its inputs, kept to verify a fingerprint match, and its hash. */
interface MemoEntry {
  readonly parentKey: string;
  readonly tokens: readonly number[];
  readonly hash: BlockHash;
  readonly next: MemoEntry | undefined;
}

/**
 * `memoEntries` bounds a cache of computed blocks keyed by a cheap fingerprint of (parent,
 * tokens) and verified against both, so a block hashed twice before (a shared system prompt,
 * on this engine or another with the same seed) costs a few integer operations instead of a
 * SHA-256. The cache is emptied when full. 0 disables it. Results never depend on it.
 */
export function createVllmBlockHasher(seed: string, memoEntries = 1 << 16): VllmBlockHasher {
  const writer = new CborWriter(512);
  const noneHash = hash('sha256', writer.reset().text(seed).view(), 'buffer');
  const noneKey = noneHash.toString('latin1');
  const memo = new Map<number, MemoEntry>();
  // Fingerprints seen once: a block enters the memo on its second sighting, so blocks that never
  // repeat (most of a unique prompt, every generated block) cost one Set insertion, not an entry.
  const seenOnce = new Set<number>();

  const compute = (
    parentKey: string,
    tokens: ArrayLike<number>,
    start: number,
    end: number,
    extraKeys: CborValue,
  ): BlockHash => {
    writer
      .reset()
      .arrayHeader(3)
      .latin1Bytes(parentKey)
      .arrayHeader(end - start)
      .uints(tokens, start, end);
    if (extraKeys === null) writer.null();
    else writer.value(extraKeys);
    return new LazyBlockHash(hash('sha256', writer.view(), 'binary')); // 'binary' is Node's alias of latin1
  };

  /** `lookup` false skips the memo lookup (the caller knows it would miss) but still records the block. */
  const memoised = (
    parent: BlockHash | null,
    tokens: ArrayLike<number>,
    start: number,
    end: number,
    lookup: boolean,
  ): { hash: BlockHash; hit: boolean } => {
    const parentKey = parent ? parent.key : noneKey;
    let fingerprint =
      (parentKey.charCodeAt(0) |
        (parentKey.charCodeAt(1) << 8) |
        (parentKey.charCodeAt(2) << 16) |
        (parentKey.charCodeAt(3) << 24)) ^
      (end - start);
    for (let i = start; i < end; i++) fingerprint = Math.imul(fingerprint ^ tokens[i]!, 0x01000193);
    // 30 bits: V8 keeps such integers unboxed (Smis), which makes them cheap Map and Set keys.
    fingerprint = (Math.imul(fingerprint ^ (fingerprint >>> 15), 0x2c1b3c6d) ^ (fingerprint >>> 12)) & 0x3fff_ffff;
    let first = memo.get(fingerprint);
    if (lookup) {
      for (let entry = first; entry; entry = entry.next) {
        if (entry.parentKey !== parentKey || entry.tokens.length !== end - start) continue;
        let same = true;
        for (let i = start; i < end && same; i++) same = entry.tokens[i - start] === tokens[i];
        if (same) return { hash: entry.hash, hit: true };
      }
    }
    const computed = compute(parentKey, tokens, start, end, null);
    if (!seenOnce.has(fingerprint)) {
      if (seenOnce.size >= memoEntries) seenOnce.clear();
      seenOnce.add(fingerprint);
      return { hash: computed, hit: false };
    }
    if (memo.size >= memoEntries) {
      memo.clear();
      first = undefined;
    }
    const copy = Array.isArray(tokens)
      ? (tokens as number[]).slice(start, end)
      : (Array.prototype.slice.call(tokens, start, end) as number[]);
    memo.set(fingerprint, { parentKey, tokens: copy, hash: computed, next: first });
    return { hash: computed, hit: false };
  };

  const hashBlock: VllmBlockHasher['hashBlock'] = (parent, tokens, start, end, extraKeys = null) => {
    if (memoEntries === 0 || extraKeys !== null)
      return compute(parent ? parent.key : noneKey, tokens, start, end, extraKeys);
    return memoised(parent, tokens, start, end, true).hash;
  };

  return {
    seed,
    noneHash,
    hashBlock,
    extendChain(chain, tokens, blockSize, memoTokens = tokens.length) {
      // After one miss every later block has a parent never hashed before, so it misses too.
      let lookup = true;
      for (let end = (chain.length + 1) * blockSize; end <= tokens.length; end += blockSize) {
        const parent = chain[chain.length - 1] ?? null;
        if (memoEntries === 0 || end > memoTokens) {
          // Past the prompt: neither looked up nor recorded in the memo (generated blocks rarely repeat).
          chain.push(compute(parent ? parent.key : noneKey, tokens, end - blockSize, end, null));
          continue;
        }
        const { hash: next, hit } = memoised(parent, tokens, end - blockSize, end, lookup);
        lookup &&= hit;
        chain.push(next);
      }
      return chain;
    },
  };
}

const shared = new Map<string, VllmBlockHasher>();

/**
 * One hasher per seed for the whole process, so engines simulated side by side (the cluster
 * simulator) share the memo of blocks already hashed. Safe because hashing is synchronous and
 * the memo only ever returns what hashing the same inputs would.
 */
export function sharedBlockHasher(seed: string): VllmBlockHasher {
  let hasher = shared.get(seed);
  if (!hasher) {
    hasher = createVllmBlockHasher(seed);
    shared.set(seed, hasher);
  }
  return hasher;
}

/** The event form of a 32-byte digest (last 8 bytes as uint64), for callers holding raw digests. */
export function externalBlockHash(digest: Uint8Array): bigint {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).readBigUInt64BE(digest.byteLength - 8);
}
