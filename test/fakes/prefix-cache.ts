import { createHash } from 'node:crypto';
import { blockStored, type KvCacheEvent } from '../../proto/kv-events/index.ts';
import type { KvIndex } from '../../orchestrator/kv-index/index.ts';

/**
 * The one prefix cache of the fake engines (every test that needs an engine cache imports this):
 * full blocks of the prompt, chained engine hashes (sha256 of the
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
        events.push(
          blockStored({
            blockHashes: chain.slice(from, to),
            parentBlockHash: from === 0 ? null : chain[from - 1]!,
            tokenIds: tokenIds.slice(from * blockSize, to * blockSize),
            blockSize,
          }),
        );
        r = end;
      }
      if (evicted.length > 0)
        events.push({ type: 'BlockRemoved', blockHashes: evicted, medium: 'GPU', groupIdx: null });
      return { cachedTokens: hit * blockSize, events };
    },
  };
}

/**
 * Several workers' prefix caches, each publishing its events straight into a KV index as one
 * batch per request (routing tests: the index then knows what the engines hold).
 */
export interface CacheFleet {
  /** Serves `prompt` on `worker`: returns its cached prefix in tokens, and applies its events to `index`. */
  serve(worker: string, prompt: readonly number[], index: Pick<KvIndex, 'applyBatch'> | null): number;
}

export function createCacheFleet(
  workers: readonly { id: string; blockSize: number; capacityBlocks: number }[],
): CacheFleet {
  const caches = new Map(workers.map((w) => [w.id, createPrefixCache(w.blockSize, w.capacityBlocks)]));
  let ts = 0;
  return {
    serve(id, prompt, index) {
      const cache = caches.get(id);
      if (!cache) throw new Error(`no worker ${id} in the cache fleet`);
      const { cachedTokens, events } = cache.admit(prompt);
      ts += 1;
      if (index && events.length > 0) index.applyBatch(id, { ts, events, dataParallelRank: null });
      return cachedTokens;
    },
  };
}
