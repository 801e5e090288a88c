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

  it('retires a slot at once and releases its blocks over later drains, sharing entries with live slots', () => {
    const rng = createRng('block-store-retire');
    const store = new BlockStore(16);
    const chain = chainOf(3000);
    const key = (i: number) => [chain.words[2 * i]!, chain.words[2 * i + 1]!] as const;
    let slots = [store.allocSlot(), store.allocSlot(), store.allocSlot()];
    const held = slots.map(() => new Set<number>());
    for (let i = 0; i < 3000; i++) {
      for (let t = 0; t < 3; t++) {
        if (rng.next() < 0.6) {
          store.hold(store.ensure(...key(i)), slots[t]!);
          held[t]!.add(i);
        }
      }
    }
    const check = () => {
      slots.forEach((slot, t) => expect(store.blocksOf(slot)).toBe(held[t]!.size));
      for (let i = 0; i < 3000; i += 5) {
        const entry = store.find(...key(i));
        slots.forEach((slot, t) => expect(entry !== -1 && store.holds(entry, slot)).toBe(held[t]!.has(i)));
      }
    };
    // Retire slot 0: nothing is released yet, and the slot is not handed out again meanwhile.
    const first = slots[0]!;
    const firstHeld = store.blocksOf(first);
    store.retireSlot(first);
    expect(store.blocksOf(first)).toBe(firstHeld);
    expect(store.retiredSlots).toBe(1);
    const fresh = store.allocSlot();
    expect(fresh).not.toBe(first);
    slots = [fresh, slots[1]!, slots[2]!];
    held[0] = new Set();
    let drains = 0;
    for (let step = 0; store.retiredSlots > 0; step++) {
      // Live slots keep changing while the pass runs; slot 1 is retired half-way through it.
      const i = rng.int(3000);
      const t = rng.int(3);
      if (rng.next() < 0.6) {
        store.hold(store.ensure(...key(i)), slots[t]!);
        held[t]!.add(i);
      } else if (held[t]!.delete(i)) {
        store.release(store.find(...key(i)), slots[t]!);
      }
      if (step === 10) {
        store.retireSlot(slots[1]!);
        slots[1] = store.allocSlot();
        held[1] = new Set();
        expect(store.retiredSlots).toBe(2);
      }
      store.drainRetired(50);
      drains++;
      if (step % 17 === 0) check();
      expect(drains).toBeLessThan(1000);
    }
    check();
    // Two passes of about 3000 entries at 50 per call: the work was spread, not done at once.
    expect(drains).toBeGreaterThan(60);
    expect(store.size).toBe(new Set(held.flatMap((set) => [...set])).size);
    expect(store.blocksOf(first)).toBe(0);
    const reused = [store.allocSlot(), store.allocSlot()];
    expect(reused).toContain(first);
  });

  it('drains retired slots at once when every slot is taken, instead of widening', () => {
    const store = new BlockStore(16);
    const chain = chainOf(10);
    const slots = Array.from({ length: 64 }, () => store.allocSlot());
    for (const slot of slots) store.hold(store.ensure(chain.words[0]!, chain.words[1]!), slot);
    store.retireSlot(slots[5]!);
    expect(store.allocSlot()).toBe(slots[5]);
    expect(store.retiredSlots).toBe(0);
    expect(store.blocksOf(slots[5]!)).toBe(0);
  });
});
