/**
 * An open-addressing hash table from 64-bit keys (two uint32 words) to a non-negative int32
 * value plus one int32 of auxiliary data, in typed arrays: no per-entry objects, no BigInts,
 * no garbage on the hot path. Linear probing, backward-shift deletion (no tombstones), doubles
 * at half full. Keys may be any 64-bit value, including 0.
 */
export class HashTable64 {
  private keyLo: Uint32Array;
  private keyHi: Uint32Array;
  /** -1 marks an empty slot. */
  private vals: Int32Array;
  private auxs: Int32Array;
  private mask: number;
  private shift: number;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let bits = 4;
    while (1 << bits < initialCapacity * 2 && bits < 30) bits++;
    this.keyLo = new Uint32Array(1 << bits);
    this.keyHi = new Uint32Array(1 << bits);
    this.vals = new Int32Array(1 << bits).fill(-1);
    this.auxs = new Int32Array(1 << bits);
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
    const { keyLo, keyHi, vals, mask } = this;
    let slot = this.home(lo, hi);
    for (;;) {
      if (vals[slot] === -1) return -1;
      if (keyLo[slot] === lo >>> 0 && keyHi[slot] === hi >>> 0) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** The key's value, or -1 when absent. */
  get(lo: number, hi: number): number {
    const slot = this.find(lo, hi);
    return slot === -1 ? -1 : this.vals[slot]!;
  }

  valueAt(slot: number): number {
    return this.vals[slot]!;
  }

  auxAt(slot: number): number {
    return this.auxs[slot]!;
  }

  setAuxAt(slot: number, aux: number): void {
    this.auxs[slot] = aux;
  }

  /** Inserts or overwrites; `value` must be >= 0. Returns the slot (valid until the next insert or delete). */
  set(lo: number, hi: number, value: number, aux = 0): number {
    if ((this.count + 1) * 2 > this.vals.length) this.grow();
    const { keyLo, keyHi, vals, mask } = this;
    let slot = this.home(lo, hi);
    for (;;) {
      if (vals[slot] === -1) {
        keyLo[slot] = lo;
        keyHi[slot] = hi;
        this.count++;
        break;
      }
      if (keyLo[slot] === lo >>> 0 && keyHi[slot] === hi >>> 0) break;
      slot = (slot + 1) & mask;
    }
    vals[slot] = value;
    this.auxs[slot] = aux;
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
    const { keyLo, keyHi, vals, auxs, mask } = this;
    let hole = slot;
    let next = (hole + 1) & mask;
    while (vals[next] !== -1) {
      const home = this.home(keyLo[next]!, keyHi[next]!);
      // Move `next` into the hole unless its home lies cyclically in (hole, next].
      const distanceNext = (next - home) & mask;
      const distanceHole = (next - hole) & mask;
      if (distanceNext >= distanceHole) {
        keyLo[hole] = keyLo[next]!;
        keyHi[hole] = keyHi[next]!;
        vals[hole] = vals[next]!;
        auxs[hole] = auxs[next]!;
        hole = next;
      }
      next = (next + 1) & mask;
    }
    vals[hole] = -1;
    this.count--;
  }

  clear(): void {
    this.vals.fill(-1);
    this.count = 0;
  }

  /** Visits every entry; the table must not change during the walk. */
  forEach(visit: (lo: number, hi: number, value: number, aux: number) => void): void {
    const { keyLo, keyHi, vals, auxs } = this;
    for (let slot = 0; slot < vals.length; slot++) {
      const value = vals[slot]!;
      if (value !== -1) visit(keyLo[slot]!, keyHi[slot]!, value, auxs[slot]!);
    }
  }

  private grow(): void {
    const { keyLo, keyHi, vals, auxs } = this;
    const capacity = vals.length * 2;
    if (capacity > 2 ** 30) throw new RangeError('HashTable64 is full (2^29 entries)');
    this.keyLo = new Uint32Array(capacity);
    this.keyHi = new Uint32Array(capacity);
    this.vals = new Int32Array(capacity).fill(-1);
    this.auxs = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.shift--;
    this.count = 0;
    for (let slot = 0; slot < vals.length; slot++) {
      if (vals[slot] !== -1) this.set(keyLo[slot]!, keyHi[slot]!, vals[slot]!, auxs[slot]!);
    }
  }
}
