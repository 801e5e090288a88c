import { Tokenizer as NativeTokenizer } from '@anush008/tokenizers';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import { createByteLevelBpe, type BpeTokenizerJson, type ByteLevelBpe } from './byte-level-bpe.ts';
import { createByteLevelDetokenizer, createByteTable } from './byte-level.ts';
import { createOffsetDetokenizer } from './offset-detokenizer.ts';
import { createSegmentEncoder, type SegmentEncoder } from './segment-cache.ts';
import type { TextLength, Tokenizer } from './tokenizer.ts';
import { vocabularyKeepsWordsApart } from './word-bound.ts';

/**
 * A Hugging Face `tokenizer.json` behind the Tokenizer interface. Byte-level BPE tokenizers
 * (Qwen, Llama 3, GPT-2 style; see byte-level-bpe.ts) encode prompts up to `maxSyncChars` in
 * JavaScript on the calling thread, split at added tokens with each long segment's ids kept in
 * an LRU (segment-cache.ts): about ten times cheaper than a native call for a prompt-sized
 * text, and a repeated system prompt costs a lookup. Longer texts, other tokenizers, and
 * whole-sequence decoding run in the native `tokenizers` library on the libuv thread pool, off
 * the event loop. Streaming decoding is synchronous and cheap (byte-level.ts, offset-detokenizer.ts).
 */

export type DetokenizerKind = 'byte-level' | 'offsets';

export interface HfTokenizerOptions {
  /** tokenizer.json's text. */
  readonly tokenizerJson: string;
  /** tokenizer_config.json's `eos_token` (a string or `{content}`), if any. */
  readonly eosToken?: unknown;
  /**
   * Streaming decoder: `byte-level` (exact, for ByteLevel decoders) or `offsets` (any decoder).
   * Default: `byte-level` when tokenizer.json's decoder is ByteLevel, else `offsets`.
   */
  readonly detokenizer?: DetokenizerKind;
  /**
   * Encode byte-level BPE texts of up to this many characters in JavaScript, on the calling
   * thread (default 65 536, about 15 000 tokens: under 10 ms at worst); 0 sends every text to
   * the native library.
   */
  readonly maxSyncChars?: number;
}

interface AddedToken {
  readonly content: string;
  readonly special: boolean;
}

/** The parts of tokenizer.json read in JavaScript (the native library reads the rest). */
interface TokenizerJsonHead extends BpeTokenizerJson {
  added_tokens?: {
    id: number;
    content: string;
    special?: boolean;
    lstrip?: boolean;
    rstrip?: boolean;
    single_word?: boolean;
    normalized?: boolean;
  }[];
  decoder?: { type?: string } | null;
  post_processor?: { type?: string } | null;
}

export function createHfTokenizer(options: HfTokenizerOptions): Result<Tokenizer> {
  let head: TokenizerJsonHead;
  let native: NativeTokenizer;
  try {
    head = JSON.parse(options.tokenizerJson) as TokenizerJsonHead;
    native = NativeTokenizer.fromString(options.tokenizerJson);
  } catch (error) {
    return fail(
      new TandemError('invalid_request', `tokenizer.json cannot be loaded: ${(error as Error).message}`, {
        cause: error,
      }),
    );
  }
  const addedTokens = new Map<number, AddedToken>();
  for (const token of head.added_tokens ?? [])
    addedTokens.set(token.id, { content: token.content, special: token.special === true });
  const vocabSize = native.getVocabSize(true);
  const isSpecial = (id: number) => addedTokens.get(id)?.special === true;
  const inRange = (id: number) => Number.isInteger(id) && id >= 0 && id < vocabSize;
  const tokenText = (id: number) => (inRange(id) ? native.idToToken(id) : null);
  const eosText = tokenContent(options.eosToken);
  const eosTokenId = eosText === undefined ? undefined : (native.tokenToId(eosText) ?? undefined);

  const kind: DetokenizerKind = options.detokenizer ?? (head.decoder?.type === 'ByteLevel' ? 'byte-level' : 'offsets');
  const nativeDecoder = native.getDecoder();
  if (kind === 'offsets' && nativeDecoder === null) {
    return fail(
      new TandemError('invalid_request', 'tokenizer.json has no decoder; streaming detokenization needs one'),
    );
  }
  const bytesOf = createByteTable({ tokenText, addedTokens });
  const fast = createFastEncoder(head);
  const maxSyncChars = options.maxSyncChars ?? 65_536;
  // A post-processor other than ByteLevel may add ids (a BOS): then add_special_tokens goes native.
  const postAddsNothing = !head.post_processor || head.post_processor.type === 'ByteLevel';
  const charsPerTokenBound = fast === undefined ? undefined : maxUnitsPerToken(fast.bpe, head.added_tokens ?? []);
  // Whether words bound ids (word-bound.ts): checked once at load, 75-135 ms for Qwen3's 151,643
  // entries on a 2-core machine (npx tsx over vocabularyKeepsWordsApart, 7 December 2026).
  const wordsAreTokens =
    fast !== undefined &&
    vocabularyKeepsWordsApart(
      Object.keys(head.model?.vocab ?? {}),
      (head.added_tokens ?? []).map((t) => t.content),
    );
  const minTokensOf = lowerBound(charsPerTokenBound, wordsAreTokens);
  // A text of U units and B UTF-8 bytes holds at least (3U - B) / 2 ASCII characters (see maxUnitsPerToken).
  const minTokens = (text: string) =>
    minTokensOf({ units: text.length, ascii: Math.max(0, (3 * text.length - Buffer.byteLength(text)) / 2) });
  const nativeIds = async (text: string, addSpecialTokens: boolean) =>
    (await native.encode(text, null, { addSpecialTokens })).getIds();

  return ok({
    vocabSize,
    eosTokenId,
    isSpecial,
    async encode(text, { addSpecialTokens }) {
      if (fast && text.length <= maxSyncChars && (postAddsNothing || !addSpecialTokens)) {
        const ids = fast.segments.encode(text);
        if (ids !== undefined) return ids;
      }
      return nativeIds(text, addSpecialTokens);
    },
    async encodeWithin(text, { addSpecialTokens, maxTokens }) {
      // The bound never exceeds text.length / k (k = charsPerTokenBound): below that, nothing to
      // check (and no pass over the text to count its UTF-8 bytes).
      if (charsPerTokenBound === undefined || text.length > maxTokens * charsPerTokenBound) {
        const floor = minTokens(text);
        if (floor > maxTokens) return { atLeast: floor };
      }
      // In JavaScript whatever the length: the walk stops past maxTokens ids, so the event loop
      // is held for at most about maxTokens ids' worth of merging.
      let ids = fast && (postAddsNothing || !addSpecialTokens) ? fast.segments.encode(text, maxTokens) : undefined;
      ids ??= await nativeIds(text, addSpecialTokens);
      return ids.length > maxTokens ? { atLeast: ids.length } : { ids };
    },
    minTokens,
    minTokensOf,
    wordsAreTokens,
    async decode(tokenIds, { skipSpecialTokens }) {
      return native.decode(tokenIds.filter(inRange), skipSpecialTokens);
    },
    createDetokenizer(detokenizerOptions) {
      if (kind === 'byte-level') return createByteLevelDetokenizer(bytesOf, isSpecial, detokenizerOptions);
      const decodeSpellings = (spellings: string[]) => nativeDecoder!.decode(spellings);
      return createOffsetDetokenizer({ tokenText, addedTokens, decodeSpellings }, detokenizerOptions);
    },
  });
}

/** The JavaScript segment encoder, when the pipeline and every added token allow it to be exact. */
function createFastEncoder(head: TokenizerJsonHead): { segments: SegmentEncoder; bpe: ByteLevelBpe } | undefined {
  const added = head.added_tokens ?? [];
  // An added token matched after normalization, or eating the spaces around it, changes its neighbours' segments.
  if (added.some((t) => t.normalized === true || t.lstrip === true || t.rstrip === true || t.single_word === true))
    return undefined;
  const bpe = createByteLevelBpe(head);
  if (!bpe) return undefined;
  return {
    bpe,
    segments: createSegmentEncoder({ addedTokens: added.map((t) => ({ content: t.content, id: t.id })), encoder: bpe }),
  };
}

/**
 * k such that a text of U UTF-16 units and B UTF-8 bytes encodes to at least max((3U - B) / 2, U / 2) / k
 * ids, for a byte-level BPE (the pipelines createByteLevelBpe takes; undefined for any other, whose
 * unknown-word or fused tokens promise nothing). Why:
 * - every byte of the normalized text is spelled by exactly one id, and no vocabulary id spells more
 *   than `longestTokenBytes` (128 for Qwen3); an added token is one id for its content's units;
 * - NFC never drops an ASCII character (none composes with what precedes it), and shrinks no text to
 *   fewer UTF-8 bytes than half its UTF-16 units (its worst case is three code points composing into
 *   one two-byte character, U+0055 U+0308 U+0304 -> U+01D5: 3 units -> 2 bytes);
 * - each non-ASCII UTF-16 unit takes at most 3 UTF-8 bytes, so a text holds at least (3U - B) / 2
 *   ASCII characters.
 * So normalized bytes >= max(ASCII count, U / 2), and k = the larger of the longest token's bytes and
 * the longest added token's units. Qwen3: k = 128, so 7 MB of ASCII is at least 57,000 ids.
 */
function maxUnitsPerToken(bpe: ByteLevelBpe, added: readonly { content: string }[]): number {
  let k = bpe.longestTokenBytes;
  for (const token of added) k = Math.max(k, token.content.length);
  return k;
}

/**
 * minTokensOf for a tokenizer whose bound is `k` (maxUnitsPerToken), or none: max(ascii, units / 2) / k,
 * and the word breaks when `wordsAreTokens` (word-bound.ts); each only grows with its counts, so
 * lower bounds on them give a lower bound.
 */
function lowerBound(k: number | undefined, wordsAreTokens: boolean): (length: TextLength) => number {
  if (k === undefined) return () => 0;
  return ({ units, ascii, words = 0 }) =>
    Math.max(Math.floor(Math.max(ascii, units / 2) / k), wordsAreTokens ? words : 0);
}

/** A special token as tokenizer_config.json spells it: `"<s>"` or `{"content": "<s>", ...}`. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}
