import { describe, expect, it } from 'vitest';
import { TandemError } from '../../../common/errors.ts';
import { createKvBlockPool } from './block-pool.ts';
import { createKvBlockLayout, kvRowOffset, sameKvLayout, toProtoKvLayout } from './layout.ts';
import { blocksFor, ensureCapacity } from './sequence.ts';

const layout = createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 16 });

describe('KV block layout', () => {
  it('sizes a block as layers x (K, V) x KV heads x positions x head dim float32', () => {
    expect(layout.blockFloats).toBe(3 * 2 * 2 * 16 * 8);
    expect(layout.blockBytes).toBe(3 * 2 * 2 * 16 * 8 * 4);
    expect(layout.dtype).toBe('float32');
  });

  it('places rows layer-major, then K before V, then KV head, then slot, each row contiguous', () => {
    const seen = new Set<number>();
    for (let l = 0; l < 3; l++)
      for (const kind of [0, 1] as const)
        for (let h = 0; h < 2; h++) for (let s = 0; s < 16; s++) seen.add(kvRowOffset(layout, l, kind, h, s));
    // Every row start is distinct, a multiple of headDim, and together they tile the block.
    expect(seen.size).toBe(layout.blockFloats / 8);
    expect([...seen].every((o) => o % 8 === 0 && o < layout.blockFloats)).toBe(true);
    expect(kvRowOffset(layout, 0, 0, 0, 1)).toBe(8);
    expect(kvRowOffset(layout, 0, 0, 1, 0)).toBe(16 * 8);
    expect(kvRowOffset(layout, 0, 1, 0, 0)).toBe(2 * 16 * 8);
    expect(kvRowOffset(layout, 1, 0, 0, 0)).toBe(2 * 2 * 16 * 8);
  });

  it('reports itself as a tandem.v1.KvLayout for the handoff', () => {
    expect(toProtoKvLayout(layout)).toMatchObject({
      numLayers: 3,
      numKvHeads: 2,
      headDim: 8,
      dtype: 'float32',
      blockBytes: 6144,
    });
  });

  it('tells layouts that differ only in block size apart', () => {
    expect(sameKvLayout(layout, createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 16 }))).toBe(
      true,
    );
    expect(sameKvLayout(layout, createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 32 }))).toBe(
      false,
    );
  });

  it('rejects a dimension that is not a positive integer, naming it', () => {
    expect(() => createKvBlockLayout({ numLayers: 3, numKvHeads: 0, headDim: 8, blockSize: 16 })).toThrow(/numKvHeads/);
    expect(() => createKvBlockLayout({ numLayers: 3, numKvHeads: 2, headDim: 8, blockSize: 1.5 })).toThrow(/blockSize/);
  });
});

describe('KV block pool', () => {
  it('round-trips a block through bytes without touching its neighbours', () => {
    const pool = createKvBlockPool({ layout, numBlocks: 4 });
    const bytes = new Uint8Array(layout.blockBytes).map((_, i) => (i * 7) & 0xff);
    pool.writeBlockBytes(2, bytes);
    expect(pool.readBlockBytes(2)).toEqual(bytes);
    expect(pool.readBlockBytes(1).every((b) => b === 0)).toBe(true);
    expect(pool.readBlockBytes(3).every((b) => b === 0)).toBe(true);
    // The float view and the bytes are the same storage, little-endian.
    const view = new DataView(bytes.buffer);
    expect(pool.data[pool.blockOffset(2) + 5]).toBe(view.getFloat32(20, true));
  });

  it('hands out copies, so later writes do not change bytes already read', () => {
    const pool = createKvBlockPool({ layout, numBlocks: 2 });
    const before = pool.readBlockBytes(0);
    pool.data[0] = 1;
    expect(before.every((b) => b === 0)).toBe(true);
    pool.clearBlock(0);
    expect(pool.data[0]).toBe(0);
  });

  it('refuses a wrongly sized write and an id outside the pool', () => {
    const pool = createKvBlockPool({ layout, numBlocks: 2 });
    expect(() => pool.writeBlockBytes(0, new Uint8Array(layout.blockBytes - 4))).toThrow(TandemError);
    expect(() => pool.readBlockBytes(2)).toThrow(/no KV block 2/);
    expect(() => pool.blockOffset(-1)).toThrow(TandemError);
    expect(pool.hasBlock(1)).toBe(true);
    expect(pool.hasBlock(2)).toBe(false);
    expect(pool.hasBlock(0.5)).toBe(false);
  });
});

describe('KV sequence', () => {
  it('grows a block table one block per blockSize positions', () => {
    const sequence = { blockTable: [] as number[], numTokens: 0 };
    let next = 10;
    ensureCapacity(sequence, 17, 16, () => next++);
    expect(sequence.blockTable).toEqual([10, 11]);
    ensureCapacity(sequence, 32, 16, () => next++);
    expect(sequence.blockTable).toEqual([10, 11]);
    ensureCapacity(sequence, 33, 16, () => next++);
    expect(sequence.blockTable).toEqual([10, 11, 12]);
    expect(blocksFor(0, 16)).toBe(0);
    expect(blocksFor(1, 16)).toBe(1);
  });
});
