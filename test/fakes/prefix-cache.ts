import { createHash } from 'node:crypto';
import type { KvCacheEvent } from '../../proto/kv-events/index.ts';

/**
 * A test engine's prefix cache: full blocks of the prompt, chained engine hashes (sha256 of the
 * parent's hash and the block's tokens, last 8 bytes as vLLM's int form), LRU eviction at
 * `capacityBlocks`, and the KV events vLLM would publish for each change. Hits follow vLLM: at
 * least the prompt's last token is always computed, so a hit covers at most
 * floor((len - 1) / blockSize) blocks.
 */
export interface PrefixCache {
  readonly blockSize: number;
  /** Looks the prompt up, stores its new full blocks, evicts; returns the hit and the events. */
  admit(tokenIds: readonly number[]): { cachedTokens: number; events: KvCacheEvent[] };
  readonly size: number;
  clear(): void;
}

export function createPrefixCache(blockSize: number, capacityBlocks: number): PrefixCache {
  const lru = new Map<bigint, true>(); // insertion order = least recently used first

  const hashes = (tokens: readonly number[]): bigint[] => {
    const out: bigint[] = [];
    let parent = Buffer.alloc(8);
    for (let start = 0; start + blockSize <= tokens.length; start += blockSize) {
      const h = createHash('sha256').update(parent);
      const block = Buffer.alloc(4 * blockSize);
      for (let i = 0; i < blockSize; i++) block.writeUInt32LE(tokens[start + i]!, 4 * i);
      const digest = h.update(block).digest();
      parent = digest.subarray(24);
      out.push(parent.readBigUInt64BE(0));
    }
    return out;
  };

  return {
    blockSize,
    get size() {
      return lru.size;
    },
    clear: () => lru.clear(),
    admit(tokenIds) {
      const chain = hashes(tokenIds);
      const maxHit = Math.floor((tokenIds.length - 1) / blockSize);
      let hit = 0;
      while (hit < chain.length && hit < maxHit && lru.has(chain[hit]!)) hit++;
      const events: KvCacheEvent[] = [];
      const fresh: number[] = [];
      for (let i = 0; i < chain.length; i++) {
        const h = chain[i]!;
        if (!lru.has(h)) fresh.push(i);
        lru.delete(h);
        lru.set(h, true);
      }
      const evicted: bigint[] = [];
      while (lru.size > capacityBlocks) {
        const oldest = lru.keys().next().value as bigint;
        lru.delete(oldest);
        evicted.push(oldest);
      }
      for (let r = 0; r < fresh.length; ) {
        let end = r + 1;
        while (end < fresh.length && fresh[end] === fresh[end - 1]! + 1) end++;
        const from = fresh[r]!;
        const to = fresh[end - 1]! + 1;
        events.push({
          type: 'BlockStored',
          blockHashes: chain.slice(from, to),
          parentBlockHash: from === 0 ? null : chain[from - 1]!,
          tokenIds: tokenIds.slice(from * blockSize, to * blockSize),
          blockSize,
          loraId: null,
          medium: 'GPU',
          loraName: null,
          extraKeys: null,
          groupIdx: null,
        });
        r = end;
      }
      if (evicted.length > 0) events.push({ type: 'BlockRemoved', blockHashes: evicted, medium: 'GPU', groupIdx: null });
      return { cachedTokens: hit * blockSize, events };
    },
  };
}
