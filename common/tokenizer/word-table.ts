/**
 * The byte-level BPE encoder's word cache: pre-tokenized words (pieces) seen before and their
 * ids, in typed arrays rather than a Map of strings. A fresh prompt's encoding is mostly these
 * lookups, and in a server they run cold (the rest of a request evicts them from the CPU caches
 * between prompts): a Map lookup costs a fresh substring, its hash, and four or five dependent
 * loads (bucket, entry, key, value, ids); here a piece is looked up straight from the text it is
 * in (no substring), in one open-addressed slot of 16 bytes (hash, key offset, key length and id
 * count, one id or the offset of the ids) and the key's characters beside it.
 *
 * Bounded: at `maxEntries` words, or when the key or id pool is full, the table starts empty
 * again (a burst of misses, each a few microseconds of merging, once per `maxEntries` new words;
 * the words of ordinary text come back at once).
 */

export interface WordTable {
  /**
   * Appends the ids of text[start, end) to `out` when the table holds that word and returns true;
   * false otherwise (then `add` may follow for the same range, before any other call).
   */
  find(text: string, start: number, end: number, out: number[]): boolean;
  /** Remembers the ids of the range the last `find` missed (1 to 65,535 units and ids). */
  add(text: string, start: number, end: number, ids: readonly number[]): void;
  /** Words held now. */
  readonly size: number;
}

export interface WordTableOptions {
  /** Words held before the table starts again (default 100,000). */
  readonly maxEntries?: number;
  /** UTF-16 units of all words held (default 1,048,576: 2 MB). */
  readonly maxKeyUnits?: number;
  /** Ids of all words of more than one id held (default 262,144: 1 MB). */
  readonly maxIds?: number;
}

const EMPTY = 0;

export function createWordTable(options: WordTableOptions = {}): WordTable {
  const maxEntries = options.maxEntries ?? 100_000;
  // A power of two at least twice maxEntries: probes stay short at a load of at most one half.
  let slotCount = 1;
  while (slotCount < 2 * maxEntries) slotCount *= 2;
  const mask = slotCount - 1;
  /** Per slot: [hash, key offset, key units | id count << 16 (0: empty), the id or the ids' offset]. */
  const slots = new Int32Array(slotCount * 4);
  const keys = new Uint16Array(options.maxKeyUnits ?? 1 << 20);
  const ids = new Int32Array(options.maxIds ?? 1 << 18);
  let entries = 0;
  let keysUsed = 0;
  let idsUsed = 0;
  /** The last find's hash and the empty slot where its miss would go. */
  let lastHash = 0;
  let lastSlot = 0;

  const clear = () => {
    slots.fill(0);
    entries = 0;
    keysUsed = 0;
    idsUsed = 0;
  };

  return {
    find(text, start, end, out) {
      const units = end - start;
      let hash = 0x811c9dc5 ^ units;
      for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
      hash ^= hash >>> 15;
      hash = Math.imul(hash, 0x2c1b3c6d);
      hash ^= hash >>> 12;
      let slot = hash & mask;
      for (;;) {
        const at = slot * 4;
        const packed = slots[at + 2]!;
        if (packed === EMPTY) break;
        if (slots[at] === hash && (packed & 0xffff) === units) {
          let i = 0;
          const key = slots[at + 1]!;
          while (i < units && keys[key + i] === text.charCodeAt(start + i)) i++;
          if (i === units) {
            const count = packed >>> 16;
            const value = slots[at + 3]!;
            if (count === 1) out.push(value);
            else for (let k = 0; k < count; k++) out.push(ids[value + k]!);
            return true;
          }
        }
        slot = (slot + 1) & mask;
      }
      lastHash = hash;
      lastSlot = slot;
      return false;
    },
    add(text, start, end, wordIds) {
      const units = end - start;
      const count = wordIds.length;
      if (units < 1 || units > 0xffff || count < 1 || count > 0xffff) return;
      if (units > keys.length || count > ids.length) return;
      if (entries >= maxEntries || keysUsed + units > keys.length || (count > 1 && idsUsed + count > ids.length)) {
        clear();
        lastSlot = lastHash & mask; // the only entry now: its home slot is empty
      }
      const at = lastSlot * 4;
      slots[at] = lastHash;
      slots[at + 1] = keysUsed;
      slots[at + 2] = units | (count << 16);
      for (let i = 0; i < units; i++) keys[keysUsed + i] = text.charCodeAt(start + i);
      keysUsed += units;
      if (count === 1) slots[at + 3] = wordIds[0]!;
      else {
        slots[at + 3] = idsUsed;
        for (let k = 0; k < count; k++) ids[idsUsed + k] = wordIds[k]!;
        idsUsed += count;
      }
      entries++;
    },
    get size() {
      return entries;
    },
  };
}
