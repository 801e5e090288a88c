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
      const hi = ((k.charCodeAt(24) << 24) | (k.charCodeAt(25) << 16) | (k.charCodeAt(26) << 8) | k.charCodeAt(27)) >>> 0;
      const lo = ((k.charCodeAt(28) << 24) | (k.charCodeAt(29) << 16) | (k.charCodeAt(30) << 8) | k.charCodeAt(31)) >>> 0;
      this.cachedValue = (BigInt(hi) << 32n) | BigInt(lo);
    }
    return this.cachedValue;
  }
}

export interface BlockHasher {
  /** The seed string NONE_HASH was derived from. */
  readonly seed: string;
  /** sha256(cbor(seed)), the parent of every sequence's first block. */
  readonly noneHash: Buffer;
  /**
   * The hash of the block holding `tokens[start, end)` whose predecessor is `parent` (null for
   * a sequence's first block). `extraKeys` is vLLM's per-block extra key tuple (LoRA name,
   * multimodal hashes, cache salt) or null when there are none, which is the common case.
   */
  hashBlock(parent: BlockHash | null, tokens: ArrayLike<number>, start: number, end: number, extraKeys?: CborValue): BlockHash;
  /**
   * Extends `chain` (the hashes of the first chain.length full blocks of `tokens`) with the
   * hashes of every further full block of `blockSize` tokens; returns `chain`. A trailing
   * partial block is never hashed.
   */
  extendChain(chain: BlockHash[], tokens: ArrayLike<number>, blockSize: number): BlockHash[];
}

export function createBlockHasher(seed: string): BlockHasher {
  const writer = new CborWriter(512);
  const noneHash = hash('sha256', writer.reset().text(seed).view(), 'buffer');

  const noneKey = noneHash.toString('latin1');
  const hashBlock: BlockHasher['hashBlock'] = (parent, tokens, start, end, extraKeys = null) => {
    writer.reset().arrayHeader(3).latin1Bytes(parent ? parent.key : noneKey).arrayHeader(end - start).uints(tokens, start, end);
    if (extraKeys === null) writer.null();
    else writer.value(extraKeys);
    return new LazyBlockHash(hash('sha256', writer.view(), 'binary')); // 'binary' is Node's alias of latin1
  };

  return {
    seed,
    noneHash,
    hashBlock,
    extendChain(chain, tokens, blockSize) {
      for (let end = (chain.length + 1) * blockSize; end <= tokens.length; end += blockSize) {
        chain.push(hashBlock(chain[chain.length - 1] ?? null, tokens, end - blockSize, end));
      }
      return chain;
    },
  };
}

/** The event form of a 32-byte digest (last 8 bytes as uint64), for callers holding raw digests. */
export function externalBlockHash(digest: Uint8Array): bigint {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).readBigUInt64BE(digest.byteLength - 8);
}
