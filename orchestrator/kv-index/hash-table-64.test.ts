import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { HashTable64 } from './hash-table-64.ts';

describe('HashTable64', () => {
  it('agrees with a Map through random inserts, overwrites and deletes across growth, also while a growth is moving entries', () => {
    const rng = createRng('hash-table');
    const table = new HashTable64(8);
    const reference = new Map<string, [number, number]>();
    // A small key space forces collisions, overwrites and long probe runs; keys include 0.
    const key = () => [rng.int(3) === 0 ? 0 : rng.int(2 ** 32), rng.int(40)] as const;
    for (let step = 0; step < 20_000; step++) {
      const [lo, hi] = key();
      const name = `${lo}:${hi}`;
      if (rng.next() < 0.6) {
        const value = rng.int(1_000_000);
        const aux = rng.int(100);
        table.set(lo, hi, value, aux);
        reference.set(name, [value, aux]);
      } else {
        expect(table.delete(lo, hi)).toBe(reference.delete(name));
      }
      if (step % 97 === 0) {
        expect(table.size).toBe(reference.size);
        const wrong: string[] = [];
        for (const [k, [value, aux]] of reference) {
          const [l, h] = k.split(':').map(Number) as [number, number];
          const slot = table.find(l, h);
          if (slot === -1 || table.valueAt(slot) !== value || table.auxAt(slot) !== aux) wrong.push(k);
        }
        expect(wrong).toEqual([]);
      }
    }
    const seen = new Set<string>();
    table.forEach((lo, hi) => seen.add(`${lo}:${hi}`));
    expect(seen).toEqual(new Set(reference.keys()));
  });

  it('answers -1 for absent keys and after clear', () => {
    const table = new HashTable64();
    table.set(1, 2, 3);
    expect(table.get(1, 2)).toBe(3);
    expect(table.get(2, 1)).toBe(-1);
    table.clear();
    expect(table.get(1, 2)).toBe(-1);
    expect(table.size).toBe(0);
  });
});
