import { describe, expect, it } from 'vitest';
import { createBlockHasher } from '../hashing/index.ts';
import { createApproximateIndex } from './approximate-index.ts';

const hasher = createBlockHasher(1);
const chain = (blocks: number, start = 0) =>
  hasher.hashPrompt(
    Array.from({ length: blocks * 4 }, (_, i) => start + i),
    4,
  );
const newIndex = (maxBlocks = 1000) =>
  createApproximateIndex({ hashSeed: 1, defaultBlockSize: 4, ttlMs: 1000, maxBlocks, pruneToFraction: 0.5 });

describe('approximate KV index', () => {
  it('counts routed blocks as cached until their TTL runs out', () => {
    const index = newIndex();
    index.recordRouted('a', chain(3), 0);
    expect([...index.overlaps(chain(3), ['a'])]).toEqual([3]);
    expect(index.expire(999)).toBe(0);
    expect(index.expire(1000)).toBe(3);
    expect([...index.overlaps(chain(3), ['a'])]).toEqual([0]);
  });

  it('extends the TTL of blocks routed again', () => {
    const index = newIndex();
    index.recordRouted('a', chain(3), 0);
    index.recordRouted('a', chain(1), 600);
    index.expire(1000);
    expect([...index.overlaps(chain(3), ['a'])]).toEqual([1]);
    index.expire(1600);
    expect(index.indexedBlocks('a')).toBe(0);
  });

  it('drops the oldest entries across workers when the size bound is hit', () => {
    const index = newIndex(10);
    index.recordRouted('old', chain(4, 0), 0);
    index.recordRouted('mid', chain(4, 100), 10);
    index.recordRouted('new', chain(4, 200), 20); // 12 > 10: prune to 5, oldest first
    expect(index.indexedBlocks('old')).toBe(0);
    expect(index.indexedBlocks('mid')).toBe(1);
    expect(index.indexedBlocks('new')).toBe(4);
    expect(index.workerStats('old')!.expiredBlocks).toBe(4);
  });

  it('ignores KV events: it learns only from routing decisions', () => {
    const index = newIndex();
    const result = index.applyBatch('a', { ts: 0, events: [{ type: 'AllBlocksCleared' }], dataParallelRank: null });
    expect(result).toEqual({ stored: 0, removed: 0, errors: [] });
  });
});
