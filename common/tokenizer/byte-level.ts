import type { Detokenizer, DetokenizerOptions } from './tokenizer.ts';

/**
 * Incremental decoding for byte-level BPE vocabularies (GPT-2's scheme, used by Qwen, Llama 3,
 * DeepSeek): every vocabulary entry spells raw bytes with one printable character per byte, so a
 * token's bytes are known exactly and a streaming UTF-8 decoder can emit whole characters only.
 * Exact, allocation-light, and synchronous; used when tokenizer.json's decoder is `ByteLevel`.
 */

/** The character GPT-2's bytes_to_unicode assigns to each byte, inverted: char code -> byte, -1 for none (codes 0-323). */
const BYTE_OF_CHAR: Int16Array = (() => {
  const table = new Int16Array(256 + 68).fill(-1);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) table[printable(b) ? b : next++] = b;
  return table;
})();

/** What a byte-level detokenizer needs to know about the vocabulary. */
export interface ByteLevelVocabulary {
  /** The vocabulary entry's spelling (byte-level characters), or null for an unknown id. */
  tokenText(tokenId: number): string | null;
  /** Added tokens by id: their literal content (not byte-level encoded) and whether they are special. */
  readonly addedTokens: ReadonlyMap<number, { readonly content: string; readonly special: boolean }>;
}

const encoder = new TextEncoder();

/**
 * Bytes per id, computed on first use and kept: a stream touches a few thousand distinct ids,
 * a vocabulary has ~150k. Shared by every detokenizer of one tokenizer.
 */
export function createByteTable(vocabulary: ByteLevelVocabulary): (tokenId: number) => Uint8Array | undefined {
  const cache = new Map<number, Uint8Array | undefined>();
  return (tokenId) => {
    if (cache.has(tokenId)) return cache.get(tokenId);
    let bytes: Uint8Array | undefined;
    const added = vocabulary.addedTokens.get(tokenId);
    if (added) bytes = encoder.encode(added.content);
    else {
      const text = vocabulary.tokenText(tokenId);
      if (text !== null) bytes = spellingToBytes(text);
    }
    cache.set(tokenId, bytes);
    return bytes;
  };
}

/** Bytes spelled by a byte-level token string; characters outside the alphabet are taken as UTF-8 text. */
export function spellingToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const byte = code < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[code]! : -1;
    if (byte >= 0) out.push(byte);
    else for (const b of encoder.encode(char)) out.push(b);
  }
  return Uint8Array.from(out);
}

export function createByteLevelDetokenizer(
  bytesOf: (tokenId: number) => Uint8Array | undefined,
  isSpecial: (tokenId: number) => boolean,
  options: DetokenizerOptions,
): Detokenizer {
  // TextDecoder in streaming mode holds an unfinished character's bytes between calls and turns
  // invalid sequences into U+FFFD, which is what a full decode with errors="replace" produces.
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  return {
    push(tokenId) {
      if (options.skipSpecialTokens && isSpecial(tokenId)) return '';
      const bytes = bytesOf(tokenId);
      return bytes === undefined ? '' : decoder.decode(bytes, { stream: true });
    },
    flush: () => decoder.decode(),
  };
}
