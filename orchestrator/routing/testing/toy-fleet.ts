import type { KvCacheEvent, KvEventBatch } from '../../../proto/kv-events/types.ts';
import type { KvIndex } from '../../kv-index/index.ts';

/**
 * A toy fleet for routing tests: each worker has a prefix cache of `capacityBlocks` blocks with
 * LRU eviction, and emits the KV events a vLLM engine would (BlockStored for the newly cached
 * run with its parent, BlockRemoved for evictions) straight into the index. Engine hashes are
 * its own (FNV-1a of the token prefix), unrelated to the router's. Serving reports the real hit:
 * the longest prefix of the prompt the worker actually had cached.
 */
export interface ToyWorker {
  readonly id: string;
  readonly blockSize: number;
  readonly capacityBlocks: number;
  /** Engine hash (decimal) -> last use tick; Map order is LRU order. */
  readonly cache: Map<string, number>;
}

export interface ToyFleet {
  readonly workers: ReadonlyMap<string, ToyWorker>;
  /** Serves `prompt` on `worker`: returns the cached prefix in tokens and publishes its events to `index`. */
  serve(worker: string, prompt: readonly number[], index: KvIndex | null): number;
}

function prefixHashes(prompt: readonly number[], blockSize: number): bigint[] {
  const hashes: bigint[] = [];
  let h = 0xcbf29ce484222325n;
  for (let b = 0; b + blockSize <= prompt.length; b += blockSize) {
    for (let i = b; i < b + blockSize; i++) h = BigInt.asUintN(64, (h ^ BigInt(prompt[i]! + 1)) * 0x100000001b3n);
    hashes.push(h);
  }
  return hashes;
}

export function createToyFleet(workers: readonly { id: string; blockSize: number; capacityBlocks: number }[]): ToyFleet {
  const byId = new Map(workers.map((w) => [w.id, { ...w, cache: new Map<string, number>() }]));
  let tick = 0;
  return {
    workers: byId,
    serve(id, prompt, index) {
      const worker = byId.get(id);
      if (!worker) throw new Error(`no toy worker ${id}`);
      const hashes = prefixHashes(prompt, worker.blockSize);
      let hit = 0;
      while (hit < hashes.length && worker.cache.has(String(hashes[hit]))) hit++;
      const events: KvCacheEvent[] = [];
      // Touch the cached prefix, then store the rest, evicting least recently used blocks.
      for (let i = 0; i < hit; i++) {
        const key = String(hashes[i]);
        worker.cache.delete(key);
        worker.cache.set(key, ++tick);
      }
      // Blocks after the hit that are still cached (their chain was broken) are not stored again.
      const fresh: number[] = [];
      for (let i = hit; i < hashes.length; i++) {
        const key = String(hashes[i]);
        if (!worker.cache.has(key)) fresh.push(i);
        worker.cache.delete(key);
        worker.cache.set(key, ++tick);
      }
      const evicted: bigint[] = [];
      while (worker.cache.size > worker.capacityBlocks) {
        const oldest = worker.cache.keys().next().value as string;
        worker.cache.delete(oldest);
        evicted.push(BigInt(oldest));
      }
      // One BlockStored per contiguous run of fresh blocks, chained to the block before it.
      for (let r = 0; r < fresh.length; ) {
        let end = r + 1;
        while (end < fresh.length && fresh[end] === fresh[end - 1]! + 1) end++;
        const from = fresh[r]!;
        const to = fresh[end - 1]! + 1;
        events.push({
          type: 'BlockStored',
          blockHashes: hashes.slice(from, to),
          parentBlockHash: from === 0 ? null : hashes[from - 1]!,
          tokenIds: prompt.slice(from * worker.blockSize, to * worker.blockSize),
          blockSize: worker.blockSize,
          loraId: null,
          medium: 'GPU',
          loraName: null,
          extraKeys: null,
          groupIdx: null,
        });
        r = end;
      }
      if (evicted.length > 0) events.push({ type: 'BlockRemoved', blockHashes: evicted, medium: 'GPU', groupIdx: null });
      if (index && events.length > 0) {
        const batch: KvEventBatch = { ts: tick, events, dataParallelRank: null };
        index.applyBatch(id, batch);
      }
      return Math.min(hit * worker.blockSize, Math.max(0, prompt.length - 1));
    },
  };
}
