import type { BlockRemoved, BlockStored, KvCacheEvent } from '../../proto/kv-events/types.ts';
import type { BlockHash } from './block-hash.ts';

/**
 * The physical KV blocks of one engine (vLLM's BlockPool): `numBlocks` blocks of `blockSize`
 * tokens, reference counted, with a prefix cache from block hash to block.
 *
 * Free blocks (reference count 0) sit in one queue in eviction order: allocation takes from
 * the head, freeing appends to the tail. A freed block keeps its hash and stays findable until
 * allocation reuses it, which evicts it (BlockRemoved). So the cache is LRU by free time, and a
 * caller that frees a request's blocks last-first has its tail blocks evicted before its prefix.
 *
 * Events are vLLM's: BlockStored for every run of newly registered full blocks, BlockRemoved per
 * evicted block, AllBlocksCleared on reset; a prefix hit emits nothing. They queue here until
 * `takeEvents()`.
 */
export interface BlockPool {
  readonly numBlocks: number;
  readonly blockSize: number;
  /** Blocks with reference count 0 (never used, or cached and evictable). */
  freeCount(): number;
  /** Blocks with reference count > 0. */
  usedCount(): number;
  /** Blocks with reference count 0 that still hold a cached hash (evictable prefix cache). */
  cachedFreeCount(): number;
  /** The block caching `hash`, or -1. */
  lookup(hash: BlockHash): number;
  /** Every hash the prefix cache holds (in use or evictable), as published in BlockStored; any order. */
  cachedHashes(): bigint[];
  refCount(blockId: number): number;
  hashOf(blockId: number): BlockHash | undefined;
  /** Adds a reference to each block; blocks at 0 leave the free queue (and stay cached). */
  touch(blockIds: readonly number[]): void;
  /** How many of `blockIds` have reference count 0, i.e. how many free blocks `touch` would take. */
  countFree(blockIds: readonly number[]): number;
  /**
   * Takes `count` blocks from the head of the free queue (evicting any cached hash on them) and
   * appends their ids to `out` with reference count 1. Returns false, changing nothing, when
   * fewer than `count` are free.
   */
  allocate(count: number, out: number[]): boolean;
  /**
   * Registers blocks `blockIds[from, to)` as cached under `hashes[from, to)` (one request's
   * blocks; block i holds `tokens[i*B, (i+1)*B)`). A hash already cached on another block is
   * left unregistered on this one (a private duplicate). Emits one BlockStored per contiguous run
   * of newly registered blocks, its parent the hash of the block before the run.
   */
  store(
    blockIds: readonly number[],
    hashes: readonly BlockHash[],
    from: number,
    to: number,
    tokens: ArrayLike<number>,
  ): void;
  /** Drops one reference per block, in the given order; blocks reaching 0 join the free queue's tail in that order. */
  free(blockIds: readonly number[]): void;
  /** Forgets every cached hash (AllBlocksCleared). Refused (false) while any block is in use, as in vLLM. */
  reset(): boolean;
  /** Events since the last call, oldest first (a shared empty array when there are none). */
  takeEvents(): readonly KvCacheEvent[];
}

const NO_EVENTS: readonly KvCacheEvent[] = Object.freeze([]);

/** BlockStored for blocks [from, to) of one sequence; the parent is the block before `from`. */
function storedEvent(
  blockHashes: readonly BlockHash[],
  from: number,
  to: number,
  tokens: ArrayLike<number>,
  blockSize: number,
  medium: string,
): BlockStored {
  const runHashes: bigint[] = new Array<bigint>(to - from);
  for (let i = from; i < to; i++) runHashes[i - from] = blockHashes[i]!.value;
  return {
    type: 'BlockStored',
    blockHashes: runHashes,
    parentBlockHash: from > 0 ? blockHashes[from - 1]!.value : null,
    tokenIds: Array.prototype.slice.call(tokens, from * blockSize, to * blockSize) as number[],
    blockSize,
    loraId: null,
    medium,
    loraName: null,
    extraKeys: null,
    groupIdx: null,
  };
}

export function createBlockPool(numBlocks: number, blockSize: number, medium = 'GPU'): BlockPool {
  if (!Number.isInteger(numBlocks) || numBlocks < 1)
    throw new RangeError(`numBlocks must be a positive integer, got ${numBlocks}`);
  const refs = new Int32Array(numBlocks);
  const hashes: (BlockHash | undefined)[] = new Array(numBlocks).fill(undefined);
  const cached = new Map<string, number>();
  // Free queue: a doubly linked list over block ids with a sentinel at index numBlocks.
  const SENTINEL = numBlocks;
  const next = new Int32Array(numBlocks + 1);
  const prev = new Int32Array(numBlocks + 1);
  const inQueue = new Uint8Array(numBlocks);
  let free = 0;
  let cachedFree = 0;
  let events: KvCacheEvent[] = [];

  const unlink = (id: number) => {
    next[prev[id]!] = next[id]!;
    prev[next[id]!] = prev[id]!;
    inQueue[id] = 0;
    free--;
    if (hashes[id]) cachedFree--;
  };
  const append = (id: number) => {
    const last = prev[SENTINEL]!;
    next[last] = id;
    prev[id] = last;
    next[id] = SENTINEL;
    prev[SENTINEL] = id;
    inQueue[id] = 1;
    free++;
    if (hashes[id]) cachedFree++;
  };
  next[SENTINEL] = SENTINEL;
  prev[SENTINEL] = SENTINEL;
  for (let id = 0; id < numBlocks; id++) append(id);

  return {
    numBlocks,
    blockSize,
    freeCount: () => free,
    usedCount: () => numBlocks - free,
    cachedFreeCount: () => cachedFree,
    lookup: (hash) => cached.get(hash.key) ?? -1,
    cachedHashes: () => Array.from(cached.values(), (id) => hashes[id]!.value),
    refCount: (id) => refs[id]!,
    hashOf: (id) => hashes[id],
    touch(blockIds) {
      for (const id of blockIds) {
        if (refs[id] === 0 && inQueue[id]) unlink(id);
        refs[id]!++;
      }
    },
    countFree(blockIds) {
      let count = 0;
      for (const id of blockIds) if (refs[id] === 0) count++;
      return count;
    },
    allocate(count, out) {
      if (count > free) return false;
      for (let i = 0; i < count; i++) {
        const id = next[SENTINEL]!;
        unlink(id);
        const hash = hashes[id];
        if (hash) {
          cached.delete(hash.key);
          hashes[id] = undefined;
          events.push({
            type: 'BlockRemoved',
            blockHashes: [hash.value],
            medium,
            groupIdx: null,
          } satisfies BlockRemoved);
        }
        refs[id] = 1;
        out.push(id);
      }
      return true;
    },
    store(blockIds, blockHashes, from, to, tokens) {
      let runStart = -1;
      for (let i = from; i <= to; i++) {
        // A run ends at `to`, or at a block whose hash another block already caches.
        const registers = i < to && !hashes[blockIds[i]!] && !cached.has(blockHashes[i]!.key);
        if (registers) {
          hashes[blockIds[i]!] = blockHashes[i]!;
          cached.set(blockHashes[i]!.key, blockIds[i]!);
          if (runStart < 0) runStart = i;
        } else if (runStart >= 0) {
          events.push(storedEvent(blockHashes, runStart, i, tokens, blockSize, medium));
          runStart = -1;
        }
      }
    },
    free(blockIds) {
      for (const id of blockIds) {
        if (refs[id]! <= 0) throw new Error(`block ${id} freed more often than referenced`);
        if (--refs[id]! === 0) append(id);
      }
    },
    reset() {
      if (free !== numBlocks) return false;
      for (let id = 0; id < numBlocks; id++) hashes[id] = undefined;
      cached.clear();
      cachedFree = 0;
      events.push({ type: 'AllBlocksCleared' });
      return true;
    },
    takeEvents() {
      if (events.length === 0) return NO_EVENTS;
      const taken = events;
      events = [];
      return taken;
    },
  };
}
