import { describe, expect, it } from 'vitest';
import { createRng } from './rng.ts';

describe('seeded rng', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(seqA);
  });

  it('forks independent streams without advancing the parent', () => {
    const parent = createRng('s');
    const first = parent.fork('x').next();
    const again = createRng('s').fork('x').next();
    expect(first).toBe(again);
    expect(parent.next()).toBe(createRng('s').next());
    expect(parent.fork('y').next()).not.toBe(first);
  });

  it('shuffles in place into a permutation, the same one for the same seed, each order about as likely', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const shuffled = createRng(3).shuffle(items);
    expect(shuffled).toBe(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(createRng(3).shuffle(Array.from({ length: 10 }, (_, i) => i))).toEqual(shuffled);
    // The six orders of three items, 6,000 draws: each near 1,000.
    const rng = createRng('orders');
    const counts = new Map<string, number>();
    for (let n = 0; n < 6000; n++) {
      const order = rng.shuffle(['a', 'b', 'c']).join('');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const count of counts.values()) expect(Math.abs(count - 1000)).toBeLessThan(150);
  });

  it('samples within range with roughly the right means', () => {
    const rng = createRng(7);
    const n = 20_000;
    let uniform = 0;
    let expo = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      const k = rng.int(10);
      if (u < 0 || u >= 1 || !Number.isInteger(k) || k < 0 || k >= 10) outOfRange++;
      uniform += u;
      expo += rng.exponential(4);
    }
    expect(outOfRange).toBe(0);
    expect(uniform / n).toBeCloseTo(0.5, 1);
    expect(expo / n).toBeCloseTo(0.25, 1);
  });
});
