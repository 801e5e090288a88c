import { describe, expect, it } from 'vitest';
import { createKvIndex, INDEX_MODES } from './create-index.ts';

const options = { hashSeed: 1, defaultBlockSize: 16, ttlMs: 1000, maxBlocks: 100, pruneToFraction: 0.8 };

describe('index modes', () => {
  it('builds each mode by name', () => {
    for (const mode of Object.keys(INDEX_MODES)) expect(createKvIndex(mode, options).mode).toBe(mode);
  });

  it('fails on an unknown mode, listing the known ones', () => {
    expect(() => createKvIndex('exact', options)).toThrow(/unknown index mode "exact" \(known: precise, approximate\)/);
  });
});
