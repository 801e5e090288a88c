import type { BlockHash, VllmBlockHasher } from './block-hash.ts';
import type { BlockPool } from './block-pool.ts';

/** The part of a request the KV-cache manager reads and writes. */
export interface KvSequence {
  /** Every token id known so far: prompt, then sampled tokens. */
  readonly tokens: number[];
  /** Physical blocks backing tokens[0, blockIds.length * B), in order. */
  blockIds: number[];
  /** Hashes of the sequence's first full blocks (extended lazily, never for a partial block). */
  readonly blockHashes: BlockHash[];
  /** Leading blocks already registered in the prefix cache (or skipped as duplicates). */
  numCachedBlocks: number;
  /** Prompt tokens (the rest were generated); hashing memoises prompt blocks only. Default: all. */
  readonly promptLength?: number;
}

/**
 * Per-request KV bookkeeping over a BlockPool (vLLM's KVCacheManager): finds a request's
 * cached prefix, allocates blocks as its computed tokens grow, registers full blocks in the
 * prefix cache once their KV is computed, and frees blocks last-first so a request's tail is
 * evicted before its prefix. All sizes in tokens unless named blocks.
 */
export interface KvCacheManager {
  readonly pool: BlockPool;
  readonly blockSize: number;
  readonly prefixCaching: boolean;
  /**
   * Ids of the blocks caching the longest prefix of `seq`'s full blocks that lies within its
   * first `maxTokens` tokens. Looks only; claims nothing.
   */
  findCachedPrefix(seq: KvSequence, maxTokens: number): number[];
  /**
   * Makes `seq` hold enough blocks for `totalTokens` tokens, first claiming `prefix` (blocks from
   * findCachedPrefix, only when seq holds none yet). Returns false, changing nothing, when the
   * free blocks do not suffice.
   */
  allocate(seq: KvSequence, totalTokens: number, prefix?: readonly number[]): boolean;
  /** Blocks `allocate` would need to take from the free queue for the same arguments. */
  blocksNeeded(seq: KvSequence, totalTokens: number, prefix?: readonly number[]): number;
  /** Registers every block that is full within the first `computedTokens` tokens (their KV exists). */
  cacheComputed(seq: KvSequence, computedTokens: number): void;
  /** Releases all of `seq`'s blocks (last block first) and clears its block state. */
  free(seq: KvSequence): void;
  /** Releases blocks held outside any sequence (a prefill handoff), last block first. */
  freeBlocks(blockIds: readonly number[]): void;
}

const NO_BLOCKS: readonly number[] = Object.freeze([]);

export function createKvCacheManager(pool: BlockPool, hasher: VllmBlockHasher, prefixCaching: boolean): KvCacheManager {
  const B = pool.blockSize;
  const blocksFor = (tokens: number) => Math.ceil(tokens / B);

  const blocksNeeded: KvCacheManager['blocksNeeded'] = (seq, totalTokens, prefix = NO_BLOCKS) => {
    const fresh = Math.max(0, blocksFor(totalTokens) - seq.blockIds.length - prefix.length);
    return fresh + pool.countFree(prefix);
  };

  const freeReversed = (blockIds: readonly number[]) => {
    const reversed = blockIds.slice().reverse();
    pool.free(reversed);
  };

  return {
    pool,
    blockSize: B,
    prefixCaching,
    findCachedPrefix(seq, maxTokens) {
      if (!prefixCaching) return [];
      const maxBlocks = Math.floor(Math.min(maxTokens, seq.tokens.length) / B);
      const found: number[] = [];
      for (let i = 0; i < maxBlocks; i++) {
        if (i >= seq.blockHashes.length) hasher.extendChain(seq.blockHashes, seq.tokens, B, seq.promptLength);
        const hash = seq.blockHashes[i];
        if (!hash) break;
        const id = pool.lookup(hash);
        if (id < 0) break;
        found.push(id);
      }
      return found;
    },
    blocksNeeded,
    allocate(seq, totalTokens, prefix = NO_BLOCKS) {
      if (prefix.length > 0 && seq.blockIds.length > 0)
        throw new Error('a cached prefix can only be claimed by a sequence holding no blocks');
      if (blocksNeeded(seq, totalTokens, prefix) > pool.freeCount()) return false;
      if (prefix.length > 0) {
        pool.touch(prefix);
        seq.blockIds.push(...prefix);
        seq.numCachedBlocks = prefix.length;
      }
      const fresh = blocksFor(totalTokens) - seq.blockIds.length;
      if (fresh > 0) pool.allocate(fresh, seq.blockIds);
      return true;
    },
    cacheComputed(seq, computedTokens) {
      if (!prefixCaching) return;
      const full = Math.min(Math.floor(computedTokens / B), seq.blockIds.length);
      if (full <= seq.numCachedBlocks) return;
      if (seq.blockHashes.length < full) hasher.extendChain(seq.blockHashes, seq.tokens, B, seq.promptLength);
      pool.store(seq.blockIds, seq.blockHashes, seq.numCachedBlocks, full, seq.tokens);
      seq.numCachedBlocks = full;
    },
    free(seq) {
      if (seq.blockIds.length > 0) freeReversed(seq.blockIds);
      seq.blockIds = [];
      seq.numCachedBlocks = 0;
    },
    freeBlocks: freeReversed,
  };
}
