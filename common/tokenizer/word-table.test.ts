import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.ts';
import { createWordTable } from './word-table.ts';

describe('word table', () => {
  /** Random words (ASCII, wide characters, surrogates), each with 1-4 random ids, as a reference Map. */
  function reference(seed: number, count: number): Map<string, number[]> {
    const rng = createRng(seed);
    const alphabet = ['a', 'b', 'c', ' ', '\n', 'é', '你', '🌍', "'", '1'];
    const words = new Map<string, number[]>();
    while (words.size < count) {
      let word = '';
      for (let i = 0, n = 1 + rng.int(12); i < n; i++) word += rng.pick(alphabet);
      words.set(
        word,
        Array.from({ length: 1 + (rng.next() < 0.7 ? 0 : rng.int(4)) }, () => rng.int(200_000)),
      );
    }
    return words;
  }

  it('gives back the ids of every word added, looked up inside a longer text, and misses words never added', () => {
    const table = createWordTable();
    const words = reference(1, 5000);
    const rng = createRng(2);
    for (const [word, ids] of words) {
      const text = `xy${word}z`;
      expect(table.find(text, 2, 2 + word.length, [])).toBe(false);
      table.add(text, 2, 2 + word.length, ids);
    }
    expect(table.size).toBe(words.size);
    for (const [word, ids] of words) {
      const out = [7];
      const pad = 'q'.repeat(rng.int(5));
      expect(table.find(pad + word + pad, pad.length, pad.length + word.length, out), word).toBe(true);
      expect(out).toEqual([7, ...ids]);
    }
    for (const word of ['zzzz', 'abcabcabcabcabc', ''.padEnd(20, 'é')])
      expect(table.find(word, 0, word.length, [])).toBe(false);
  });

  it('starts empty again when any bound is reached, and never gives wrong ids across the restarts', () => {
    const bounds = [{ maxEntries: 100 }, { maxKeyUnits: 300 }, { maxIds: 50 }];
    for (const options of bounds) {
      const table = createWordTable(options);
      const words = [...reference(3, 2000)];
      const rng = createRng(4);
      let hits = 0;
      for (let round = 0; round < 20_000; round++) {
        // Mostly a few hot words, sometimes any: hot words are found between restarts.
        const [word, ids] = words[rng.next() < 0.8 ? rng.int(20) : rng.int(words.length)]!;
        const out: number[] = [];
        if (table.find(word, 0, word.length, out)) {
          hits++;
          expect(out, word).toEqual(ids);
        } else table.add(word, 0, word.length, ids);
        expect(table.size).toBeLessThanOrEqual(options.maxEntries ?? 100_000);
      }
      expect(hits, JSON.stringify(options)).toBeGreaterThan(10_000);
      expect(hits, JSON.stringify(options)).toBeLessThan(20_000);
    }
  });
});
