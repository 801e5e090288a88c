import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { createBlockPrefixTrie, createTokenPrefixTrie } from './prefix-trie.ts';

function lcp(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('prefix tries', () => {
  it('answer the longest prefix shared with any earlier prompt, as brute force does', () => {
    const rng = createRng('trie');
    const trie = createTokenPrefixTrie();
    const earlier: Uint32Array[] = [];
    for (let n = 0; n < 400; n++) {
      // Prompts from a small alphabet, often extending or cutting an earlier one.
      const base = earlier.length > 0 && rng.next() < 0.7 ? rng.pick(earlier) : new Uint32Array(0);
      const keep = rng.int(base.length + 1);
      const prompt = Uint32Array.from([
        ...base.subarray(0, keep),
        ...Array.from({ length: rng.int(6) }, () => rng.int(3)),
      ]);
      const expected = earlier.reduce((best, other) => Math.max(best, lcp(prompt, other)), 0);
      expect(trie.insert(prompt)).toBe(expected);
      earlier.push(prompt);
    }
  });

  it('credit chained block ids up to the tokens an earlier prompt held', () => {
    const trie = createBlockPrefixTrie(4);
    expect(trie.insert([1, 2], 7)).toBe(0);
    expect(trie.insert([1], 3)).toBe(3); // a shorter prompt inside block 1
    expect(trie.insert([1, 2, 3], 12)).toBe(7); // block 2 held only 3 tokens before
    expect(trie.insert([1, 2, 3], 10)).toBe(10);
    expect(trie.insert([9, 2, 3], 12)).toBe(0); // same ids after a different first block share nothing
    expect(trie.insert([1, 5], 8)).toBe(4);
  });
});
