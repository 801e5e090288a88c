/**
 * An open-addressing hash table from 64-bit keys (two uint32 words) to a non-negative int32
 * value plus one int32 of auxiliary data, in one typed array: no per-entry objects, no BigInts,
 * no garbage on the hot path. Each slot is 4 consecutive words [lo, hi, value + 1, aux], so a
 * lookup at 1M entries costs one cache miss, not one per field. Linear probing, backward-shift
 * deletion (no tombstones), doubles at half full. Keys may be any 64-bit value, including 0.
 *
 * Growth is incremental, so no single call pays for rehashing the whole table (at 2M entries a
 * one-shot rehash held the event loop for over a second): the doubled array takes new keys at
 * once while every later set or delete moves the next `MIGRATE_SLOTS` slots of the old array
 * over. Until the move is done a key lives in exactly one of the two arrays; lookups try the
 * new one, then the old, where moved or deleted entries are tombstones that keep probe runs
 * whole. The old array is empty, and dropped, well before the new one is half full.
 */
const STRIDE = 4;
const LO = 0;
const HI = 1;
/** value + 1, so 0 (a fresh typed array) means empty. */
const VAL = 2;
const AUX = 3;
/** In the old array during a migration: the entry moved or was deleted (values are < 2^31). */
const TOMBSTONE = 0xffffffff;
/**
 * Old slots examined per set or delete while migrating. The old array has half the new one's
 * slots and the new one starts a quarter full, so 4 would finish just in time; 8 leaves room.
 */
const MIGRATE_SLOTS = 8;

interface Slots {
  readonly words: Uint32Array;
  readonly mask: number;
  readonly shift: number;
}

function makeSlots(bits: number): Slots {
  return { words: new Uint32Array((1 << bits) * STRIDE), mask: (1 << bits) - 1, shift: 32 - bits };
}

/** Home slot: multiplicative hashing of both words, top bits. */
function home(table: Slots, lo: number, hi: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1) ^ (hi >>> 15), 0x85ebca6b) >>> table.shift;
}

export class HashTable64 {
  private cur: Slots;
  /** The array being emptied into `cur`, or null when no growth is under way. */
  private old: Slots | null = null;
  /** Next old slot to move. */
  private cursor = 0;
  /** Live entries in both arrays. */
  private count = 0;
  /** Live entries still in `old`. */
  private oldCount = 0;

  constructor(initialCapacity = 1024) {
    let bits = 4;
    while (1 << bits < initialCapacity * 2 && bits < 30) bits++;
    this.cur = makeSlots(bits);
  }

  get size(): number {
    return this.count;
  }

  /**
   * Slot holding the key, or -1. Slots of the old array (during growth) are numbered after the
   * new array's; either way a slot is only good until the next set or delete.
   */
  find(lo: number, hi: number): number {
    const cur = this.cur;
    const slots = cur.words;
    const mask = cur.mask;
    const l = lo >>> 0;
    const h = hi >>> 0;
    let slot = home(cur, lo, hi);
    for (;;) {
      const at = slot * STRIDE;
      if (slots[at + VAL] === 0) return this.old === null ? -1 : this.findOld(l, h);
      if (slots[at + LO] === l && slots[at + HI] === h) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private findOld(l: number, h: number): number {
    const old = this.old!;
    const slots = old.words;
    let slot = home(old, l, h);
    for (;;) {
      const at = slot * STRIDE;
      const value = slots[at + VAL];
      if (value === 0) return -1;
      if (value !== TOMBSTONE && slots[at + LO] === l && slots[at + HI] === h) return this.cur.mask + 1 + slot;
      slot = (slot + 1) & old.mask;
    }
  }

  /** The array and word offset of a slot from `find`. */
  private locate(slot: number): [Uint32Array, number] {
    const size = this.cur.mask + 1;
    return slot < size ? [this.cur.words, slot * STRIDE] : [this.old!.words, (slot - size) * STRIDE];
  }

  /** The key's value, or -1 when absent. */
  get(lo: number, hi: number): number {
    const slot = this.find(lo, hi);
    return slot === -1 ? -1 : this.valueAt(slot);
  }

  valueAt(slot: number): number {
    if (slot <= this.cur.mask) return this.cur.words[slot * STRIDE + VAL]! - 1;
    const [words, at] = this.locate(slot);
    return words[at + VAL]! - 1;
  }

  auxAt(slot: number): number {
    const [words, at] = this.locate(slot);
    return words[at + AUX]! | 0;
  }

  setAuxAt(slot: number, aux: number): void {
    const [words, at] = this.locate(slot);
    words[at + AUX] = aux;
  }

  /** Inserts or overwrites; `value` must be in [0, 2^31). Returns the slot (valid until the next insert or delete). */
  set(lo: number, hi: number, value: number, aux = 0): number {
    if (this.old !== null) {
      this.migrate(MIGRATE_SLOTS);
      const slot = this.old === null ? -1 : this.findOld(lo >>> 0, hi >>> 0);
      if (slot !== -1) {
        const [words, at] = this.locate(slot);
        words[at + VAL] = value + 1;
        words[at + AUX] = aux;
        return slot;
      }
    }
    let slot = this.place(this.cur, lo >>> 0, hi >>> 0);
    if (this.cur.words[slot * STRIDE + VAL] === 0) {
      // A new key: make room first (the key is in neither array, so it goes to the new one).
      if ((this.count - this.oldCount + 1) * 2 > this.cur.mask + 1) {
        this.cur.words[slot * STRIDE + LO] = 0;
        this.cur.words[slot * STRIDE + HI] = 0;
        this.grow();
        slot = this.place(this.cur, lo >>> 0, hi >>> 0);
      }
      this.count++;
    }
    const at = slot * STRIDE;
    this.cur.words[at + VAL] = value + 1;
    this.cur.words[at + AUX] = aux;
    return slot;
  }

  /** The key's slot in `table`, or the empty slot where it goes (keys written, value left to the caller). */
  private place(table: Slots, l: number, h: number): number {
    const slots = table.words;
    let slot = home(table, l, h);
    for (;;) {
      const at = slot * STRIDE;
      if (slots[at + VAL] === 0) {
        slots[at + LO] = l;
        slots[at + HI] = h;
        return slot;
      }
      if (slots[at + LO] === l && slots[at + HI] === h) return slot;
      slot = (slot + 1) & table.mask;
    }
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
    this.count--;
    if (slot > this.cur.mask) {
      const [words, at] = this.locate(slot);
      words[at + VAL] = TOMBSTONE;
      this.oldCount--;
    } else {
      this.shiftBack(slot);
    }
    if (this.old !== null) this.migrate(MIGRATE_SLOTS);
  }

  private shiftBack(slot: number): void {
    const cur = this.cur;
    const slots = cur.words;
    const mask = cur.mask;
    let hole = slot;
    let next = (hole + 1) & mask;
    while (slots[next * STRIDE + VAL] !== 0) {
      const at = next * STRIDE;
      const homeSlot = home(cur, slots[at + LO]!, slots[at + HI]!);
      // Move `next` into the hole unless its home lies cyclically in (hole, next].
      if (((next - homeSlot) & mask) >= ((next - hole) & mask)) {
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
  }

  clear(): void {
    this.cur.words.fill(0);
    this.old = null;
    this.count = 0;
    this.oldCount = 0;
  }

  /** Visits every entry; the table must not change during the walk. */
  forEach(visit: (lo: number, hi: number, value: number, aux: number) => void): void {
    for (const table of this.old === null ? [this.cur] : [this.cur, this.old]) {
      const slots = table.words;
      for (let at = 0; at < slots.length; at += STRIDE) {
        const value = slots[at + VAL]!;
        if (value !== 0 && value !== TOMBSTONE)
          visit(slots[at + LO]!, slots[at + HI]!, value - 1, slots[at + AUX]! | 0);
      }
    }
  }

  /** Starts moving every entry into an array twice the size (finishing any move under way first). */
  private grow(): void {
    if (this.old !== null) this.migrate(Infinity);
    const bits = 32 - this.cur.shift + 1;
    if (bits > 29) throw new RangeError('HashTable64 is full (2^28 entries)');
    this.old = this.cur;
    this.oldCount = this.count;
    this.cursor = 0;
    this.cur = makeSlots(bits);
  }

  /** Moves the entries of the next `slots` old slots into the new array. */
  private migrate(slots: number): void {
    const old = this.old!;
    const words = old.words;
    const end = Math.min(old.mask + 1, this.cursor + slots);
    for (; this.cursor < end; this.cursor++) {
      const at = this.cursor * STRIDE;
      const value = words[at + VAL]!;
      if (value === 0 || value === TOMBSTONE) continue;
      const slot = this.place(this.cur, words[at + LO]!, words[at + HI]!);
      this.cur.words[slot * STRIDE + VAL] = value;
      this.cur.words[slot * STRIDE + AUX] = words[at + AUX]!;
      words[at + VAL] = TOMBSTONE;
      this.oldCount--;
    }
    if (this.cursor > old.mask) this.old = null;
  }
}
