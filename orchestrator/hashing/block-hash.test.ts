import { describe, expect, it } from 'vitest';
import { chainHashAt, chainHashHex, createBlockHasher, hashChain } from './block-hash.ts';

const tokens = (n: number, start = 1) => Array.from({ length: n }, (_, i) => start + i);

describe('chained block hashes', () => {
  const hasher = createBlockHasher(1337);

  it('hashes full blocks only and leaves the trailing partial block out', () => {
    expect(hasher.hashPrompt(tokens(47), 16).length).toBe(2);
    expect(hasher.hashPrompt(tokens(48), 16).length).toBe(3);
    expect(hasher.hashPrompt(tokens(15), 16).length).toBe(0);
  });

  it('gives equal hashes to equal prefixes and different hashes from the first differing block on', () => {
    const a = tokens(64);
    const b = [...tokens(32), 999, ...tokens(31, 34)];
    const ha = hasher.hashPrompt(a, 16);
    const hb = hasher.hashPrompt(b, 16);
    expect(chainHashAt(hb, 0)).toBe(chainHashAt(ha, 0));
    expect(chainHashAt(hb, 1)).toBe(chainHashAt(ha, 1));
    expect(chainHashAt(hb, 2)).not.toBe(chainHashAt(ha, 2));
    // Block 3 has the same tokens in both, but a different parent.
    expect(b.slice(48, 64)).toEqual(a.slice(48, 64));
    expect(chainHashAt(hb, 3)).not.toBe(chainHashAt(ha, 3));
  });

  it('chains a run from its parent exactly as hashing the whole prompt does', () => {
    const whole = hasher.hashPrompt(tokens(80), 16);
    const parentLo = whole.words[2]!;
    const parentHi = whole.words[3]!;
    const tail = hashChain(hasher.seed, parentLo, parentHi, tokens(80), 32, 48, 16);
    expect(tail.length).toBe(3);
    for (let i = 0; i < 3; i++) expect(chainHashAt(tail, i)).toBe(chainHashAt(whole, i + 2));
  });

  it('depends on the seed, the block size and the namespace', () => {
    const base = chainHashHex(hasher.hashPrompt(tokens(32), 16), 0);
    expect(chainHashHex(createBlockHasher(1338).hashPrompt(tokens(32), 16), 0)).not.toBe(base);
    expect(chainHashHex(hasher.hashPrompt(tokens(32), 32), 0)).not.toBe(base);
    expect(chainHashHex(hasher.hashPrompt(tokens(32), 16, 'my-lora'), 0)).not.toBe(base);
    expect(chainHashHex(hasher.hashPrompt(tokens(32), 16, 'my-lora'), 0)).toBe(
      chainHashHex(hasher.hashPrompt(tokens(32), 16, 'my-lora'), 0),
    );
  });

  it('rejects seeds and block sizes it cannot use', () => {
    expect(() => createBlockHasher(-1)).toThrow(/seed/);
    expect(() => createBlockHasher(2 ** 32)).toThrow(/seed/);
    expect(() => hasher.hashPrompt(tokens(32), 0)).toThrow(/block size/);
  });
});
