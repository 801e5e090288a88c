import type { ByteLevelBpe } from './byte-level-bpe.ts';

/**
 * Tokenization by chat-template segment. Added tokens (`<|im_start|>`, `<|im_end|>`, `<think>`,
 * ...) split the text before anything else runs, so the ids of a text are the concatenation of
 * each segment's ids: a repeated system prompt, or the earlier turns of a conversation, need not
 * be tokenized again. Segments of at least `minChars` are kept in a bounded LRU (by entries and by
 * ids held) from their second sighting on; shorter ones go straight to the word-cached encoder.
 * The first sighting leaves only a 30-bit fingerprint of the segment (in a ring of the last
 * `maxEntries`): a one-off prompt (every fresh completion, every fresh chat's turns) copies no
 * ids and keeps no text alive, where remembering it would move ~8 KB of ids and the prompt's
 * text into the old generation for nothing. Exact only when every added
 * token is matched on the raw text and strips nothing around it (no lstrip / rstrip /
 * single_word / normalized): the caller checks that (see hf-tokenizer.ts).
 */

export interface AddedTokenMatch {
  readonly content: string;
  readonly id: number;
}

export interface SegmentEncoderOptions {
  readonly addedTokens: readonly AddedTokenMatch[];
  readonly encoder: ByteLevelBpe;
  /** Segments remembered, most recently used kept (default 4096); as many segments seen once are noted by fingerprint. */
  readonly maxEntries?: number;
  /** Ids held across all remembered segments (default 4 000 000, about 32 MB). */
  readonly maxIds?: number;
  /** Shorter segments are not remembered (default 64 characters). */
  readonly minChars?: number;
}

export interface SegmentEncoder {
  /**
   * The ids of `text`, or undefined when the encoder cannot take it (the native library then does).
   * With `bound`, stops once more than `bound` ids are known (see ByteLevelBpe.encode); a
   * segment cut short is not remembered.
   */
  encode(text: string, bound?: number): number[] | undefined;
  /** Cache figures since creation: segments looked up, found, and remembered now (segments, ids). */
  stats(): { lookups: number; hits: number; entries: number; ids: number };
}

export function createSegmentEncoder(options: SegmentEncoderOptions): SegmentEncoder {
  const maxEntries = options.maxEntries ?? 4096;
  const maxIds = options.maxIds ?? 4_000_000;
  const minChars = options.minChars ?? 64;
  const byContent = new Map(options.addedTokens.map((t) => [t.content, t.id]));
  // Longest first: at a position, the longest added token wins (the native library's leftmost-longest match).
  const contents = [...byContent.keys()].sort((a, b) => b.length - a.length);
  const splitter = contents.length === 0 ? undefined : new RegExp(contents.map(escapeRegExp).join('|'), 'g');
  const cache = new Map<string, number[]>();
  /** Fingerprints of segments seen once (not yet in `cache`): a set, and a ring that bounds it. */
  const seenOnce = new Set<number>();
  const seenRing = new Int32Array(maxEntries).fill(-1);
  let seenNext = 0;
  /** True when the segment was seen before (or shares its fingerprint, which only remembers it early); notes it otherwise. */
  const seenBefore = (text: string): boolean => {
    const print = fingerprint(text);
    if (seenOnce.has(print)) return true;
    const evicted = seenRing[seenNext]!;
    if (evicted >= 0) seenOnce.delete(evicted);
    seenRing[seenNext] = print;
    seenNext = (seenNext + 1) % seenRing.length;
    seenOnce.add(print);
    return false;
  };
  let heldIds = 0;
  let lookups = 0;
  let hits = 0;

  /** Appends the ids of one segment (no added token in it) to `out`; false when the native library must take the text. */
  const segment = (text: string, out: number[], bound: number | undefined): boolean => {
    if (text.length < minChars) return options.encoder.encodeInto(text, out, bound);
    lookups++;
    const known = cache.get(text);
    if (known !== undefined) {
      hits++;
      cache.delete(text);
      cache.set(text, known);
      for (let i = 0; i < known.length; i++) out.push(known[i]!);
      return true;
    }
    const start = out.length;
    if (!options.encoder.encodeInto(text, out, bound)) return false;
    // Cut short by the bound: not the segment's whole ids, so not remembered (nor counted as seen).
    if ((bound === undefined || out.length <= bound) && seenBefore(text)) remember(text, out.slice(start));
    return true;
  };
  const remember = (text: string, ids: number[]) => {
    cache.set(text, ids);
    heldIds += ids.length;
    while (cache.size > maxEntries || heldIds > maxIds) {
      const [oldest, oldIds] = cache.entries().next().value!;
      cache.delete(oldest);
      heldIds -= oldIds.length;
    }
  };

  return {
    encode(text, bound) {
      const out: number[] = [];
      if (!splitter) return segment(text, out, bound) ? out : undefined;
      const over = () => bound !== undefined && out.length > bound;
      splitter.lastIndex = 0;
      let end = 0;
      for (let match = splitter.exec(text); match !== null; match = splitter.exec(text)) {
        if (match.index > end && !segment(text.slice(end, match.index), out, bound)) return undefined;
        if (over()) return out;
        out.push(byContent.get(match[0])!);
        end = match.index + match[0].length;
        if (over()) return out;
      }
      if (end < text.length && !segment(text.slice(end), out, bound)) return undefined;
      return out;
    },
    stats: () => ({ lookups, hits, entries: cache.size, ids: heldIds }),
  };
}

/**
 * 30 bits (a small integer in V8) from a text's length and up to 96 of its characters: the first
 * and last 32 and 32 spread between. Two different segments may share one; that only remembers
 * the second a sighting early (the cache itself is keyed by the whole text).
 */
function fingerprint(text: string): number {
  const length = text.length;
  let hash = Math.imul(0x811c9dc5 ^ length, 0x01000193);
  const mix = (i: number) => {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  };
  for (let i = 0; i < Math.min(32, length); i++) mix(i);
  for (let i = Math.max(32, length - 32); i < length; i++) mix(i);
  const step = Math.max(1, Math.floor(length / 32));
  for (let i = 32; i < length - 32; i += step) mix(i);
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  return (hash ^ (hash >>> 12)) & 0x3fffffff;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
