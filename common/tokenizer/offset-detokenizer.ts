import type { Detokenizer, DetokenizerOptions } from './tokenizer.ts';

/**
 * Incremental decoding for any tokenizer.json decoder (Metaspace, ByteFallback, WordPiece, ...),
 * the way Hugging Face's text-generation-inference and vLLM do it: decode a short window of
 * recent tokens twice (with and without the newest ones) and emit the difference, holding back
 * while the window's text ends in U+FFFD (a character whose bytes are still arriving). Decoding
 * windows, not single tokens, keeps decoders that look at neighbours (leading-space stripping,
 * byte fallback) right. Added tokens are literal text and bypass the decoder, as in HF's decode.
 */

/** What the offset detokenizer needs from the tokenizer. */
export interface OffsetVocabulary {
  tokenText(tokenId: number): string | null;
  readonly addedTokens: ReadonlyMap<number, { readonly content: string; readonly special: boolean }>;
  /** The tokenizer.json decoder applied to token spellings (synchronous). */
  decodeSpellings(spellings: string[]): string;
}

/** Prompt tokens kept as left context for the first generated token. */
const PROMPT_CONTEXT_TOKENS = 6;

export function createOffsetDetokenizer(vocabulary: OffsetVocabulary, options: DetokenizerOptions): Detokenizer {
  const window: string[] = [];
  for (const id of (options.promptTail ?? []).slice(-PROMPT_CONTEXT_TOKENS)) {
    const text = vocabulary.addedTokens.has(id) ? null : vocabulary.tokenText(id);
    if (text === null) window.length = 0;
    else window.push(text);
  }
  // window[prefixOffset..readOffset) is text already emitted (left context); window[readOffset..) is pending.
  let prefixOffset = 0;
  let readOffset = window.length;

  const decodeRange = (from: number, to?: number) =>
    to === from ? '' : vocabulary.decodeSpellings(window.slice(from, to));

  /** Emits whatever is pending, complete or not, and starts a new window. */
  const drain = (): string => {
    const prefix = decodeRange(prefixOffset, readOffset);
    const full = decodeRange(prefixOffset);
    window.length = 0;
    prefixOffset = 0;
    readOffset = 0;
    return full.length > prefix.length ? full.slice(prefix.length) : '';
  };

  return {
    push(tokenId) {
      const added = vocabulary.addedTokens.get(tokenId);
      if (added) {
        if (added.special && options.skipSpecialTokens) return '';
        return drain() + added.content;
      }
      const text = vocabulary.tokenText(tokenId);
      if (text === null) return '';
      window.push(text);
      const prefix = decodeRange(prefixOffset, readOffset);
      const full = decodeRange(prefixOffset);
      if (full.length <= prefix.length || full.endsWith('\uFFFD')) return '';
      prefixOffset = readOffset;
      readOffset = window.length;
      if (prefixOffset > 64) {
        window.splice(0, prefixOffset);
        readOffset -= prefixOffset;
        prefixOffset = 0;
      }
      return full.slice(prefix.length);
    },
    flush: drain,
  };
}
