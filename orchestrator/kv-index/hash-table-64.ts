/**
 * An open-addressing hash table from 64-bit keys (two uint32 words) to a non-negative int32
 * value plus one int32 of auxiliary data, in one typed array: no per-entry objects, no BigInts,
 * no garbage on the hot path. Each slot is 4 consecutive words [lo, hi, value + 1, aux], so a
 * lookup at 1M entries costs one cache miss, not one per field. Linear probing, backward-shift
 * deletion (no tombstones), doubles at half full. Keys may be any 64-bit value, including 0.
 */
const STRIDE = 4;
const LO = 0;
const HI = 1;
/** value + 1, so 0 (a fresh typed array) means empty. */
const VAL = 2;
const AUX = 3;

export class HashTable64 {
  private slots: Uint32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let bits = 4;
    while (1 << bits < initialCapacity * 2 && bits < 30) bits++;
    this.slots = new Uint32Array((1 << bits) * STRIDE);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
  }

  get size(): number {
    return this.count;
  }

  /** Home slot: multiplicative hashing of both words, top bits. */
  private home(lo: number, hi: number): number {
    return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1) ^ (hi >>> 15), 0x85ebca6b) >>> this.shift;
  }

  /** Slot holding the key, or -1. */
  find(lo: number, hi: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const l = lo >>> 0;
    const h = hi >>> 0;
    let slot = this.home(lo, hi);
    for (;;) {
      const at = slot * STRIDE;
      if (slots[at + VAL] === 0) return -1;
      if (slots[at + LO] === l && slots[at + HI] === h) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** The key's value, or -1 when absent. */
  get(lo: number, hi: number): number {
    const slot = this.find(lo, hi);
    return slot === -1 ? -1 : this.slots[slot * STRIDE + VAL]! - 1;
  }

  valueAt(slot: number): number {
    return this.slots[slot * STRIDE + VAL]! - 1;
  }

  auxAt(slot: number): number {
    return this.slots[slot * STRIDE + AUX]! | 0;
  }

  setAuxAt(slot: number, aux: number): void {
    this.slots[slot * STRIDE + AUX] = aux;
  }

  /** Inserts or overwrites; `value` must be in [0, 2^31). Returns the slot (valid until the next insert or delete). */
  set(lo: number, hi: number, value: number, aux = 0): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    const l = lo >>> 0;
    const h = hi >>> 0;
    let slot = this.home(lo, hi);
    for (;;) {
      const at = slot * STRIDE;
      if (slots[at + VAL] === 0) {
        slots[at + LO] = l;
        slots[at + HI] = h;
        this.count++;
        break;
      }
      if (slots[at + LO] === l && slots[at + HI] === h) break;
      slot = (slot + 1) & mask;
    }
    slots[slot * STRIDE + VAL] = value + 1;
    slots[slot * STRIDE + AUX] = aux;
    return slot;
  }

  /** Removes the key; returns whether it was present. */
  delete(lo: number, hi: number): boolean {
    const slot = this.find(lo, hi);
    if (slot === -1) return false;
    this.deleteAt(slot);
    return true;
  }

  /** Removes the entry at `slot` (from `find`), shifting later entries of its probe run back. */
  deleteAt(slot: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = slot;
    let next = (hole + 1) & mask;
    while (slots[next * STRIDE + VAL] !== 0) {
      const at = next * STRIDE;
      const home = this.home(slots[at + LO]!, slots[at + HI]!);
      // Move `next` into the hole unless its home lies cyclically in (hole, next].
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        const to = hole * STRIDE;
        slots[to + LO] = slots[at + LO]!;
        slots[to + HI] = slots[at + HI]!;
        slots[to + VAL] = slots[at + VAL]!;
        slots[to + AUX] = slots[at + AUX]!;
        hole = next;
      }
      next = (next + 1) & mask;
    }
    slots[hole * STRIDE + VAL] = 0;
    this.count--;
  }

  clear(): void {
    this.slots.fill(0);
    this.count = 0;
  }

  /** Visits every entry; the table must not change during the walk. */
  forEach(visit: (lo: number, hi: number, value: number, aux: number) => void): void {
    const slots = this.slots;
    for (let at = 0; at < slots.length; at += STRIDE) {
      const value = slots[at + VAL]!;
      if (value !== 0) visit(slots[at + LO]!, slots[at + HI]!, value - 1, slots[at + AUX]! | 0);
    }
  }

  private grow(): void {
    const old = this.slots;
    const capacity = (this.mask + 1) * 2;
    if (capacity > 2 ** 29) throw new RangeError('HashTable64 is full (2^28 entries)');
    this.slots = new Uint32Array(capacity * STRIDE);
    this.mask = capacity - 1;
    this.shift--;
    this.count = 0;
    for (let at = 0; at < old.length; at += STRIDE) {
      if (old[at + VAL] !== 0) this.set(old[at + LO]!, old[at + HI]!, old[at + VAL]! - 1, old[at + AUX]!);
    }
  }
}
