import type { ByteLevelBpe } from './byte-level-bpe.ts';

/**
 * Tokenization by chat-template segment. Added tokens (`<|im_start|>`, `<|im_end|>`, `<think>`,
 * ...) split the text before anything else runs, so the ids of a text are the concatenation of
 * each segment's ids: a repeated system prompt, or the earlier turns of a conversation, need not
 * be tokenized again. Segments of at least `minChars` are kept in a bounded LRU (by entries and by
 * ids held); shorter ones go straight to the word-cached encoder. Exact only when every added
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
  /** Segments remembered, most recently used kept (default 4096). */
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
  /** Cache figures since creation: segments looked up, found, and ids held now. */
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
  let heldIds = 0;
  let lookups = 0;
  let hits = 0;

  const segment = (text: string, out: number[], bound: number | undefined): boolean => {
    // With a bound, the encoder stops past `room` ids: a result longer than `room` was cut short.
    const room = bound === undefined ? undefined : bound - out.length;
    if (text.length < minChars) {
      const ids = options.encoder.encode(text, room);
      if (ids === undefined) return false;
      for (const id of ids) out.push(id);
      return true;
    }
    lookups++;
    let ids = cache.get(text);
    if (ids !== undefined) {
      hits++;
      cache.delete(text);
      cache.set(text, ids);
    } else {
      ids = options.encoder.encode(text, room);
      if (ids === undefined) return false;
      if (room === undefined || ids.length <= room) remember(text, ids);
    }
    for (const id of ids) out.push(id);
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
