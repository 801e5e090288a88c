import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { createBlockHasher } from '../hashing/index.ts';
import { BlockStore } from './block-store.ts';

const hasher = createBlockHasher(7);
const chainOf = (n: number) =>
  hasher.hashPrompt(
    Array.from({ length: n * 4 }, (_, i) => i),
    4,
  );

describe('block store', () => {
  it('reports each tenant its longest consecutive prefix, stopping at the first gap', () => {
    const store = new BlockStore(4);
    const chain = chainOf(6);
    const a = store.allocSlot();
    const b = store.allocSlot();
    // a holds blocks 0-3, b holds 0-1 and 3-5 (a gap at 2, so its prefix is 2 blocks).
    for (const [slot, blocks] of [
      [a, [0, 1, 2, 3]],
      [b, [0, 1, 3, 4, 5]],
    ] as const) {
      for (const i of blocks) store.hold(store.ensure(chain.words[2 * i]!, chain.words[2 * i + 1]!), slot);
    }
    const out = new Int32Array(3);
    store.overlaps(chain, [a, b, -1], out);
    expect([...out]).toEqual([4, 2, 0]);
    expect(store.blocksOf(a)).toBe(4);
    expect(store.blocksOf(b)).toBe(5);
    expect(store.size).toBe(6);
  });

  it('grows past 64 tenants and keeps each tenant apart', () => {
    const store = new BlockStore(16);
    const chain = chainOf(200);
    const slots = Array.from({ length: 150 }, () => store.allocSlot());
    slots.forEach((slot, t) => {
      for (let i = 0; i < t % 200; i++) store.hold(store.ensure(chain.words[2 * i]!, chain.words[2 * i + 1]!), slot);
    });
    const out = new Int32Array(slots.length);
    store.overlaps(chain, slots, out);
    expect([...out]).toEqual(slots.map((_, t) => t % 200));
  });

  it('frees an entry once no tenant holds it and reuses freed slots', () => {
    const store = new BlockStore();
    const chain = chainOf(1);
    const a = store.allocSlot();
    const entry = store.ensure(chain.words[0]!, chain.words[1]!);
    expect(store.hold(entry, a)).toBe(true);
    expect(store.hold(entry, a)).toBe(false);
    expect(store.release(entry, a)).toBe(true);
    expect(store.find(chain.words[0]!, chain.words[1]!)).toBe(-1);
    expect(store.size).toBe(0);
    store.freeSlot(a);
    expect(store.allocSlot()).toBe(a);
  });

  it('keeps every holder through growths under way while entries are held, released and reused', () => {
    const rng = createRng('block-store-growth');
    const store = new BlockStore(16);
    const slots = [store.allocSlot(), store.allocSlot(), store.allocSlot()];
    const chain = chainOf(3000);
    const held = slots.map(() => new Set<number>());
    const check = () => {
      for (let i = 0; i < 3000; i += 7) {
        const entry = store.find(chain.words[2 * i]!, chain.words[2 * i + 1]!);
        const holders = slots.filter((slot, t) => held[t]!.has(i) && entry !== -1 && store.holds(entry, slot));
        expect(holders.length).toBe(held.filter((set) => set.has(i)).length);
      }
      slots.forEach((slot, t) => expect(store.blocksOf(slot)).toBe(held[t]!.size));
      expect(store.size).toBe(new Set(held.flatMap((set) => [...set])).size);
    };
    for (let step = 0; step < 12_000; step++) {
      const i = rng.int(3000);
      const t = rng.int(slots.length);
      if (rng.next() < 0.7) {
        store.hold(store.ensure(chain.words[2 * i]!, chain.words[2 * i + 1]!), slots[t]!);
        held[t]!.add(i);
      } else if (held[t]!.has(i)) {
        expect(store.release(store.find(chain.words[2 * i]!, chain.words[2 * i + 1]!), slots[t]!)).toBe(true);
        held[t]!.delete(i);
      }
      if (step % 211 === 0) check();
    }
    check();
  });
});
