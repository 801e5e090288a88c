import type { BlockHashChain } from '../hashing/index.ts';
import { HashTable64 } from './hash-table-64.ts';

/**
 * The shared core of every index mode: router block hash -> the set of tenants holding that
 * block. Tenants are small integer slots; each entry keeps a bitset of slots, so the overlap
 * query intersects a few machine words per block no matter how many workers there are.
 * Entries live in typed arrays and are recycled through a free list.
 *
 * Invariants: an entry exists iff at least one tenant holds it; `blocksOf(slot)` equals the
 * number of entries whose bit `slot` is set. A reset tenant's slot is retired (`retireSlot`)
 * rather than walked: its bits stay until `drainRetired` passes over them, and it is not handed
 * out again before.
 *
 * Growth never copies everything at once (at 2M entries a one-shot copy held the event loop
 * for hundreds of milliseconds on a busy machine): from half capacity on, each `ensure` copies
 * the next few entries into doubled arrays, and every write to an entry already copied goes to
 * both, so the new arrays are complete, and take over, by the time the old ones are full.
 * Reads always use the current arrays.
 */
/** Blocks whose table lookups are issued together in the overlap walk. */
const LOOKAHEAD = 16;
/**
 * Entries copied into the next, doubled arrays per `ensure` while a growth is under way. The
 * copy starts at half capacity, so 2 per call would finish just as the old arrays fill up.
 */
const COPY_ENTRIES = 8;

/** The entry arrays at one capacity. */
interface EntryArrays {
  lo: Uint32Array;
  hi: Uint32Array;
  /** Tenants holding the entry; 0 for a free entry. */
  holders: Int32Array;
  /** `words` uint32 per entry: the holders bitset. */
  bits: Uint32Array;
}

export class BlockStore {
  private readonly table: HashTable64;
  private entryLo: Uint32Array;
  private entryHi: Uint32Array;
  /** Tenants holding the entry; 0 for a free entry. */
  private entryHolders: Int32Array;
  /** `words` uint32 per entry: the holders bitset. */
  private bits: Uint32Array;
  private words = 2;
  private capacity: number;
  private highWater = 0;
  /** The doubled arrays being filled, or null; entries below `copied` are already in them. */
  private next: EntryArrays | null = null;
  private copied = 0;
  private readonly free: number[] = [];
  private perSlot: Int32Array;
  /** 0 free, 1 in use, 2 retired (its blocks not all released yet). */
  private slotUsed: Uint8Array;
  /** Retired slots waiting for the next drain pass, and those the current pass releases. */
  private retired: number[] = [];
  private draining: number[] = [];
  /** Next entry the current drain pass looks at. */
  private drainCursor = 0;
  private scratchActive: Uint32Array;
  private scratchOverlap: Int32Array;
  private readonly scratchEntries = new Int32Array(LOOKAHEAD);

  constructor(initialEntries = 4096) {
    this.capacity = Math.max(16, initialEntries);
    this.table = new HashTable64(this.capacity);
    this.entryLo = new Uint32Array(this.capacity);
    this.entryHi = new Uint32Array(this.capacity);
    this.entryHolders = new Int32Array(this.capacity);
    this.bits = new Uint32Array(this.capacity * this.words);
    this.perSlot = new Int32Array(this.words * 32);
    this.slotUsed = new Uint8Array(this.words * 32);
    this.scratchActive = new Uint32Array(this.words);
    this.scratchOverlap = new Int32Array(this.words * 32);
  }

  /** Distinct blocks held by at least one tenant. */
  get size(): number {
    return this.table.size;
  }

  /**
   * A free tenant slot. When every slot is taken, retired slots are drained at once (a walk of
   * every entry, as a widening is anyway) before the bitsets grow by a word.
   */
  allocSlot(): number {
    let slot = this.slotUsed.indexOf(0);
    if (slot === -1 && this.retiredSlots > 0) {
      this.drainRetired(Number.POSITIVE_INFINITY);
      slot = this.slotUsed.indexOf(0);
    }
    if (slot === -1) {
      slot = this.words * 32;
      this.widen(this.words + 1);
    }
    this.slotUsed[slot] = 1;
    return slot;
  }

  /** Returns a slot to the pool; it must hold no blocks. */
  freeSlot(slot: number): void {
    if (this.perSlot[slot] !== 0) throw new Error(`slot ${slot} still holds ${this.perSlot[slot]} blocks`);
    this.slotUsed[slot] = 0;
  }

  blocksOf(slot: number): number {
    return this.perSlot[slot] ?? 0;
  }

  /** Entry id of the block, or -1. */
  find(lo: number, hi: number): number {
    return this.table.get(lo, hi);
  }

  /** Entry id of the block, created (held by nobody yet) when absent. Pair with `hold`. */
  ensure(lo: number, hi: number): number {
    const found = this.table.get(lo, hi);
    if (found !== -1) return found;
    let entry = this.free.pop();
    if (entry === undefined) {
      if (this.highWater === this.capacity) this.finishGrowth();
      entry = this.highWater++;
    }
    this.entryLo[entry] = lo;
    this.entryHi[entry] = hi;
    this.entryHolders[entry] = 0;
    this.bits.fill(0, entry * this.words, (entry + 1) * this.words);
    const next = this.next;
    if (next !== null && entry < this.copied) {
      next.lo[entry] = lo;
      next.hi[entry] = hi;
      next.holders[entry] = 0;
      next.bits.fill(0, entry * this.words, (entry + 1) * this.words);
    }
    this.table.set(lo, hi, entry);
    if (next !== null) this.copySome(COPY_ENTRIES);
    else if (this.highWater * 2 >= this.capacity) this.startGrowth();
    return entry;
  }

  loOf(entry: number): number {
    return this.entryLo[entry]!;
  }

  hiOf(entry: number): number {
    return this.entryHi[entry]!;
  }

  holds(entry: number, slot: number): boolean {
    return (this.bits[entry * this.words + (slot >>> 5)]! & (1 << (slot & 31))) !== 0;
  }

  /** Marks `slot` as holding `entry`; returns false when it already did. */
  hold(entry: number, slot: number): boolean {
    const at = entry * this.words + (slot >>> 5);
    const bit = 1 << (slot & 31);
    const word = this.bits[at]!;
    if ((word & bit) !== 0) return false;
    this.bits[at] = word | bit;
    this.entryHolders[entry]!++;
    this.perSlot[slot]!++;
    if (this.next !== null && entry < this.copied) this.mirror(entry);
    return true;
  }

  /**
   * Drops `slot` from `entry`; returns false when it did not hold it. The entry is freed (and
   * its id may be reused) once nobody holds it.
   */
  release(entry: number, slot: number): boolean {
    const at = entry * this.words + (slot >>> 5);
    const bit = 1 << (slot & 31);
    const word = this.bits[at]!;
    if ((word & bit) === 0) return false;
    this.bits[at] = word & ~bit;
    this.perSlot[slot]!--;
    const holders = --this.entryHolders[entry]!;
    if (this.next !== null && entry < this.copied) this.mirror(entry);
    if (holders === 0) this.dropEntry(entry);
    return true;
  }

  /** Frees an entry nobody holds (after `ensure` without `hold`). */
  discardIfUnheld(entry: number): void {
    if (this.entryHolders[entry] === 0) this.dropEntry(entry);
  }

  /**
   * Gives up `slot` and every block it holds without walking them now (a worker reset at 1M
   * blocks held the event loop for ~350 ms of CPU when they were released in one call): the slot
   * is no longer handed out by `allocSlot`, and `drainRetired` releases its blocks later, in
   * passes over the entries; once a pass is over the slot is free again. The caller must stop
   * asking about the slot at once (its blocks count in `size` and `blocksOf` until released).
   */
  retireSlot(slot: number): void {
    if (this.slotUsed[slot] !== 1) throw new Error(`slot ${slot} is not in use`);
    if (this.perSlot[slot] === 0) {
      this.slotUsed[slot] = 0;
      return;
    }
    this.slotUsed[slot] = 2;
    this.retired.push(slot);
  }

  /** Retired slots whose blocks are not all released yet. */
  get retiredSlots(): number {
    return this.retired.length + this.draining.length;
  }

  /**
   * Releases blocks of retired slots, looking at no more than `maxEntries` entries (each costs a
   * few word reads, and one release per retired slot holding it). A pass starts at entry 0 with
   * the slots retired so far and ends at the last entry in use or once they hold nothing;
   * slots retired meanwhile wait for the next pass.
   */
  drainRetired(maxEntries: number): void {
    let budget = maxEntries;
    while (budget > 0) {
      if (this.draining.length === 0) {
        if (this.retired.length === 0) return;
        this.draining = this.retired;
        this.retired = [];
        this.drainCursor = 0;
      }
      const draining = this.draining;
      const end = Math.min(this.highWater, this.drainCursor + budget);
      budget -= end - this.drainCursor;
      for (let entry = this.drainCursor; entry < end; entry++) {
        if (this.entryHolders[entry] === 0) continue;
        for (let i = 0; i < draining.length; i++) this.release(entry, draining[i]!);
      }
      this.drainCursor = end;
      let held = 0;
      for (let i = 0; i < draining.length; i++) held += this.perSlot[draining[i]!]!;
      // New entries made during the pass are never held by a retired slot, so the pass can stop
      // at the high-water mark even if it moved, or as soon as the slots hold nothing.
      if (held > 0 && end < this.highWater) continue;
      if (held > 0) throw new Error(`retired slots still hold ${held} blocks after a full pass`);
      for (const slot of draining) this.slotUsed[slot] = 0;
      this.draining = [];
    }
  }

  /**
   * Longest run of consecutive blocks from the chain's start that each tenant in `slots`
   * holds, in blocks, written to `out[j]` for `slots[j]` (a slot of -1 gets 0). One pass over
   * the chain that stops as soon as no queried tenant still matches.
   */
  overlaps(chain: BlockHashChain, slots: ArrayLike<number>, out: Int32Array): void {
    const W = this.words;
    const active = this.scratchActive;
    const bySlot = this.scratchOverlap;
    active.fill(0);
    let anyActive = 0;
    for (let j = 0; j < slots.length; j++) {
      const slot = slots[j]!;
      if (slot < 0) continue;
      active[slot >>> 5]! |= 1 << (slot & 31);
      anyActive = 1;
    }
    const { words, length } = chain;
    const entries = this.scratchEntries;
    let i = 0;
    // Blocks go in batches: first the batch's table lookups, which do not depend on each other
    // so the CPU overlaps their cache misses, then the bitset intersections.
    walk: while (i < length && anyActive !== 0) {
      const end = Math.min(length, i + LOOKAHEAD);
      let found = 0;
      for (let k = i; k < end; k++) {
        const entry = this.table.get(words[2 * k]!, words[2 * k + 1]!);
        if (entry === -1) break;
        entries[found++] = entry;
      }
      for (let k = 0; k < found; k++, i++) {
        const base = entries[k]! * W;
        anyActive = 0;
        for (let w = 0; w < W; w++) {
          const before = active[w]!;
          if (before === 0) continue;
          const after = before & this.bits[base + w]!;
          let dropped = before & ~after;
          while (dropped !== 0) {
            const low = dropped & -dropped;
            bySlot[(w << 5) + 31 - Math.clz32(low)] = i;
            dropped ^= low;
          }
          active[w] = after;
          anyActive |= after;
        }
        if (anyActive === 0) {
          i++;
          break walk;
        }
      }
      if (i < end) break; // a block no tenant holds
    }
    // Tenants still matching when the walk ended matched all `i` blocks walked.
    for (let w = 0; w < W; w++) {
      let rest = active[w]!;
      while (rest !== 0) {
        const low = rest & -rest;
        bySlot[(w << 5) + 31 - Math.clz32(low)] = i;
        rest ^= low;
      }
    }
    for (let j = 0; j < slots.length; j++) {
      const slot = slots[j]!;
      out[j] = slot < 0 ? 0 : bySlot[slot]!;
    }
  }

  private dropEntry(entry: number): void {
    this.table.delete(this.entryLo[entry]!, this.entryHi[entry]!);
    this.free.push(entry);
  }

  /** Allocates the doubled arrays (their pages are touched only as entries are copied in). */
  private startGrowth(): void {
    const capacity = this.capacity * 2;
    this.next = {
      lo: new Uint32Array(capacity),
      hi: new Uint32Array(capacity),
      holders: new Int32Array(capacity),
      bits: new Uint32Array(capacity * this.words),
    };
    this.copied = 0;
  }

  /** Copies the next `count` entries into the doubled arrays; switches to them when all are in. */
  private copySome(count: number): void {
    const next = this.next!;
    const end = Math.min(this.capacity, this.copied + count);
    const W = this.words;
    next.lo.set(this.entryLo.subarray(this.copied, end), this.copied);
    next.hi.set(this.entryHi.subarray(this.copied, end), this.copied);
    next.holders.set(this.entryHolders.subarray(this.copied, end), this.copied);
    next.bits.set(this.bits.subarray(this.copied * W, end * W), this.copied * W);
    this.copied = end;
    if (end < this.capacity) return;
    this.entryLo = next.lo;
    this.entryHi = next.hi;
    this.entryHolders = next.holders;
    this.bits = next.bits;
    this.capacity = next.lo.length;
    this.next = null;
  }

  /** Completes a growth at once (the old arrays are full; only when the steps fell behind). */
  private finishGrowth(): void {
    if (this.next === null) this.startGrowth();
    this.copySome(Infinity);
  }

  /** Writes an already-copied entry's holders and bitset to the doubled arrays too. */
  private mirror(entry: number): void {
    const next = this.next!;
    const W = this.words;
    next.holders[entry] = this.entryHolders[entry]!;
    for (let w = 0; w < W; w++) next.bits[entry * W + w] = this.bits[entry * W + w]!;
  }

  private widen(words: number): void {
    if (this.next !== null) this.finishGrowth();
    const bits = new Uint32Array(this.capacity * words);
    for (let entry = 0; entry < this.highWater; entry++) {
      for (let w = 0; w < this.words; w++) bits[entry * words + w] = this.bits[entry * this.words + w]!;
    }
    this.bits = bits;
    const perSlot = new Int32Array(words * 32);
    perSlot.set(this.perSlot);
    this.perSlot = perSlot;
    const slotUsed = new Uint8Array(words * 32);
    slotUsed.set(this.slotUsed);
    this.slotUsed = slotUsed;
    this.scratchActive = new Uint32Array(words);
    this.scratchOverlap = new Int32Array(words * 32);
    this.words = words;
  }
}
