import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../common/rng.ts';
import type { KvCacheEvent } from '../../proto/kv-events/types.ts';
import { createVllmBlockHasher, type BlockHash, type VllmBlockHasher } from './block-hash.ts';
import { createBlockPool } from './block-pool.ts';
import { createKvCacheManager, type KvCacheManager, type KvSequence } from './kv-cache-manager.ts';

const B = 16;

/**
 * The reference: the same contract as BlockPool + KvCacheManager written the obvious way
 * (arrays, linear scans, indexOf/splice on a free list), to check the linked-list, map and
 * counter bookkeeping of the real one on random request streams.
 */
class ReferenceKvCache {
  readonly refs: number[];
  readonly hashes: (BlockHash | null)[];
  readonly freeOrder: number[];
  readonly events: string[] = [];

  constructor(
    numBlocks: number,
    private readonly hasher: VllmBlockHasher,
  ) {
    this.refs = new Array<number>(numBlocks).fill(0);
    this.hashes = new Array<BlockHash | null>(numBlocks).fill(null);
    this.freeOrder = Array.from({ length: numBlocks }, (_, i) => i);
  }

  chain(tokens: number[]): BlockHash[] {
    const chain: BlockHash[] = [];
    for (let end = B; end <= tokens.length; end += B)
      chain.push(this.hasher.hashBlock(chain[chain.length - 1] ?? null, tokens, end - B, end));
    return chain;
  }

  /** Admits a request whose whole token list is computed now; null when it does not fit. */
  start(tokens: number[]): { blocks: number[]; cached: number; hits: number } | null {
    const chain = this.chain(tokens);
    const prefix: number[] = [];
    for (let i = 0; i < Math.floor((tokens.length - 1) / B); i++) {
      const id = this.hashes.findIndex((h) => h !== null && h.key === chain[i]!.key);
      if (id < 0) break;
      prefix.push(id);
    }
    const fresh = Math.ceil(tokens.length / B) - prefix.length;
    if (fresh + prefix.filter((id) => this.refs[id] === 0).length > this.freeOrder.length) return null;
    for (const id of prefix) {
      if (this.refs[id] === 0) this.freeOrder.splice(this.freeOrder.indexOf(id), 1);
      this.refs[id]!++;
    }
    const state = { blocks: [...prefix, ...this.take(fresh)], cached: prefix.length, hits: prefix.length };
    this.store(state, tokens, chain);
    return state;
  }

  /** Appends tokens (computed now) to a running request; false when its new blocks do not fit. */
  grow(state: { blocks: number[]; cached: number }, tokens: number[]): boolean {
    const fresh = Math.ceil(tokens.length / B) - state.blocks.length;
    if (fresh > this.freeOrder.length) return false;
    state.blocks.push(...this.take(fresh));
    this.store(state, tokens, this.chain(tokens));
    return true;
  }

  end(state: { blocks: number[] }): void {
    for (const id of [...state.blocks].reverse()) {
      if (--this.refs[id]! === 0) this.freeOrder.push(id);
    }
  }

  private take(count: number): number[] {
    const taken: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.freeOrder.shift()!;
      if (this.hashes[id]) {
        this.events.push(`removed ${this.hashes[id]!.value}`);
        this.hashes[id] = null;
      }
      this.refs[id] = 1;
      taken.push(id);
    }
    return taken;
  }

  private store(state: { blocks: number[]; cached: number }, tokens: number[], chain: BlockHash[]): void {
    const full = Math.floor(tokens.length / B);
    let run: number[] = [];
    const flush = () => {
      if (run.length === 0) return;
      const first = run[0]!;
      const parent = first > 0 ? String(chain[first - 1]!.value) : 'none';
      this.events.push(
        `stored parent=${parent} [${run.map((i) => chain[i]!.value).join(',')}] tokens=${tokens.slice(first * B, (first + run.length) * B).join(',')}`,
      );
      run = [];
    };
    for (let i = state.cached; i < full; i++) {
      const duplicate = this.hashes.some((h) => h !== null && h.key === chain[i]!.key);
      if (duplicate) {
        flush();
        continue;
      }
      this.hashes[state.blocks[i]!] = chain[i]!;
      run.push(i);
    }
    flush();
    state.cached = full;
  }

  cachedFree(): number {
    return this.hashes.filter((h, id) => h !== null && this.refs[id] === 0).length;
  }
}

function describeEvents(events: readonly KvCacheEvent[]): string[] {
  return events.map((event) => {
    if (event.type === 'BlockRemoved') return `removed ${event.blockHashes.join(',')}`;
    if (event.type === 'AllBlocksCleared') return 'cleared';
    const parent = event.parentBlockHash === null ? 'none' : String(event.parentBlockHash);
    return `stored parent=${parent} [${event.blockHashes.join(',')}] tokens=${event.tokenIds.join(',')}`;
  });
}

interface Live {
  tokens: number[];
  seq: KvSequence;
  ref: { blocks: number[]; cached: number };
}

function newSequence(tokens: number[]): KvSequence {
  return { tokens, blockIds: [], blockHashes: [], numCachedBlocks: 0 };
}

/** A request stream with heavy prefix sharing: a few system prompts, suffixes and growth from a few shared 16-token chunks (so concurrent requests compute identical blocks). */
function makeTokens(rng: Rng, groups: number[][], chunks: number[][]): number[] {
  const tokens = [...rng.pick(groups)];
  const parts = rng.int(4);
  for (let i = 0; i < parts; i++)
    tokens.push(
      ...(rng.next() < 0.7 ? rng.pick(chunks) : Array.from({ length: 1 + rng.int(20) }, () => rng.int(1000))),
    );
  return tokens;
}

function runStream(
  seed: string,
  numBlocks: number,
  operations: number,
): { hits: number; evictions: number; rejected: number } {
  const rng = createRng(seed);
  const hasher = createVllmBlockHasher('0');
  const pool = createBlockPool(numBlocks, B);
  const manager: KvCacheManager = createKvCacheManager(pool, hasher, true);
  const reference = new ReferenceKvCache(numBlocks, hasher);
  const groups = Array.from({ length: 4 }, (_, g) =>
    Array.from({ length: g % 2 === 0 ? 32 * (g + 1) : 16 * g + 7 }, () => rng.int(1000)),
  );
  const chunks = Array.from({ length: 3 }, () => Array.from({ length: B }, () => rng.int(1000)));
  const live: Live[] = [];
  let hits = 0;
  let evictions = 0;
  let rejected = 0;

  const compare = (step: number) => {
    const events = describeEvents(pool.takeEvents());
    evictions += events.filter((e) => e.startsWith('removed')).length;
    expect(events, `events at operation ${step}`).toEqual(reference.events.splice(0));
    expect(pool.usedCount(), `used blocks at operation ${step}`).toBe(reference.refs.filter((r) => r > 0).length);
    expect(pool.cachedFreeCount(), `cached free blocks at operation ${step}`).toBe(reference.cachedFree());
    for (const request of live) expect(request.seq.blockIds).toEqual(request.ref.blocks);
  };

  for (let op = 0; op < operations; op++) {
    const roll = rng.next();
    if (live.length === 0 || roll < 0.4) {
      const tokens = makeTokens(rng, groups, chunks);
      const seq = newSequence([...tokens]);
      const prefix = manager.findCachedPrefix(seq, tokens.length - 1);
      const admitted = manager.allocate(seq, tokens.length, prefix);
      if (admitted) manager.cacheComputed(seq, tokens.length);
      const ref = reference.start([...tokens]);
      expect(admitted, `admission at operation ${op}`).toBe(ref !== null);
      if (admitted && ref) {
        expect(prefix.length).toBe(ref.hits);
        hits += prefix.length;
        live.push({ tokens, seq, ref });
      } else {
        rejected++;
      }
    } else if (roll < 0.75) {
      const request = rng.pick(live);
      const extra = rng.next() < 0.5 ? rng.pick(chunks) : Array.from({ length: 1 + rng.int(8) }, () => rng.int(1000));
      request.tokens.push(...extra);
      request.seq.tokens.push(...extra);
      const grew = manager.allocate(request.seq, request.tokens.length);
      if (grew) manager.cacheComputed(request.seq, request.tokens.length);
      expect(grew, `growth at operation ${op}`).toBe(reference.grow(request.ref, [...request.tokens]));
      if (!grew) {
        // Out of blocks: the request ends where it stands (as a preempted one would free its blocks).
        request.tokens.splice(request.tokens.length - extra.length);
        request.seq.tokens.splice(request.seq.tokens.length - extra.length);
      }
    } else {
      const index = rng.int(live.length);
      const [request] = live.splice(index, 1);
      manager.free(request!.seq);
      reference.end(request!.ref);
    }
    compare(op);
  }
  for (const request of live.splice(0)) {
    manager.free(request.seq);
    reference.end(request.ref);
  }
  compare(operations);
  expect(pool.usedCount()).toBe(0);
  expect(pool.freeCount()).toBe(numBlocks);
  return { hits, evictions, rejected };
}

describe('KV cache manager against a reference model', () => {
  it('agrees on hits, block ids, events and counts on seeded random request streams', () => {
    let hits = 0;
    let evictions = 0;
    let rejected = 0;
    for (let seed = 0; seed < 12; seed++) {
      const result = runStream(`kv-${seed}`, 48 + seed * 8, 400);
      hits += result.hits;
      evictions += result.evictions;
      rejected += result.rejected;
    }
    // The streams must exercise what they claim to: cache hits, evictions, and full caches.
    expect(hits).toBeGreaterThan(100);
    expect(evictions).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(10);
  });

  it('evicts the least recently freed blocks first, a request tail before its prefix', () => {
    const hasher = createVllmBlockHasher('0');
    const pool = createBlockPool(4, B);
    const manager = createKvCacheManager(pool, hasher, true);
    const a = newSequence(Array.from({ length: 32 }, (_, i) => i));
    const b = newSequence(Array.from({ length: 32 }, (_, i) => 100 + i));
    manager.allocate(a, 32);
    manager.cacheComputed(a, 32);
    manager.allocate(b, 32);
    manager.cacheComputed(b, 32);
    const aHashes = a.blockHashes.map((h) => h.value);
    const bHashes = b.blockHashes.map((h) => h.value);
    manager.free(a);
    manager.free(b);
    pool.takeEvents();
    // Needing three blocks evicts a's tail, then a's head, then b's tail.
    const c = newSequence(Array.from({ length: 48 }, (_, i) => 500 + i));
    expect(manager.allocate(c, 48)).toBe(true);
    expect(pool.takeEvents()).toEqual([
      { type: 'BlockRemoved', blockHashes: [aHashes[1]], medium: 'GPU', groupIdx: null },
      { type: 'BlockRemoved', blockHashes: [aHashes[0]], medium: 'GPU', groupIdx: null },
      { type: 'BlockRemoved', blockHashes: [bHashes[1]], medium: 'GPU', groupIdx: null },
    ]);
    expect(manager.findCachedPrefix(newSequence([...b.tokens]), 31)).toHaveLength(1);
  });

  it('emits nothing for a prefix hit and one BlockStored for the new run after it', () => {
    const hasher = createVllmBlockHasher('0');
    const pool = createBlockPool(16, B);
    const manager = createKvCacheManager(pool, hasher, true);
    const prompt = Array.from({ length: 40 }, (_, i) => i + 1);
    const first = newSequence([...prompt]);
    manager.allocate(first, 40);
    manager.cacheComputed(first, 40);
    pool.takeEvents();
    const second = newSequence([...prompt, ...Array.from({ length: 30 }, (_, i) => 900 + i)]);
    const prefix = manager.findCachedPrefix(second, second.tokens.length - 1);
    expect(prefix).toEqual(first.blockIds.slice(0, 2));
    manager.allocate(second, second.tokens.length, prefix);
    manager.cacheComputed(second, second.tokens.length);
    const events = pool.takeEvents();
    expect(events).toHaveLength(1);
    const stored = events[0]!;
    if (stored.type !== 'BlockStored') throw new Error('expected BlockStored');
    expect(stored.parentBlockHash).toBe(second.blockHashes[1]!.value);
    expect(stored.blockHashes).toEqual(second.blockHashes.slice(2, 4).map((h) => h.value));
    expect(stored.tokenIds).toEqual(second.tokens.slice(32, 64));
    expect(stored.blockSize).toBe(16);
  });

  it('clears the cache on reset only when no block is in use', () => {
    const pool = createBlockPool(4, B);
    const manager = createKvCacheManager(pool, createVllmBlockHasher('0'), true);
    const seq = newSequence(Array.from({ length: 20 }, (_, i) => i));
    manager.allocate(seq, 20);
    manager.cacheComputed(seq, 20);
    expect(pool.reset()).toBe(false);
    manager.free(seq);
    pool.takeEvents();
    expect(pool.reset()).toBe(true);
    expect(pool.takeEvents()).toEqual([{ type: 'AllBlocksCleared' }]);
    expect(pool.cachedFreeCount()).toBe(0);
    expect(manager.findCachedPrefix(newSequence([...seq.tokens]), 19)).toEqual([]);
  });
});
