import { Tokenizer as NativeTokenizer } from '@anush008/tokenizers';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import { createByteLevelBpe, type BpeTokenizerJson } from './byte-level-bpe.ts';
import { createByteLevelDetokenizer, createByteTable } from './byte-level.ts';
import { createOffsetDetokenizer } from './offset-detokenizer.ts';
import { createSegmentEncoder, type SegmentEncoder } from './segment-cache.ts';
import type { Tokenizer } from './tokenizer.ts';

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

  return ok({
    vocabSize,
    eosTokenId,
    isSpecial,
    async encode(text, { addSpecialTokens }) {
      if (fast && text.length <= maxSyncChars && (postAddsNothing || !addSpecialTokens)) {
        const ids = fast.encode(text);
        if (ids !== undefined) return ids;
      }
      const encoding = await native.encode(text, null, { addSpecialTokens });
      return encoding.getIds();
    },
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
function createFastEncoder(head: TokenizerJsonHead): SegmentEncoder | undefined {
  const added = head.added_tokens ?? [];
  // An added token matched after normalization, or eating the spaces around it, changes its neighbours' segments.
  if (added.some((t) => t.normalized === true || t.lstrip === true || t.rstrip === true || t.single_word === true))
    return undefined;
  const encoder = createByteLevelBpe(head);
  if (!encoder) return undefined;
  return createSegmentEncoder({ addedTokens: added.map((t) => ({ content: t.content, id: t.id })), encoder });
}

/** A special token as tokenizer_config.json spells it: `"<s>"` or `{"content": "<s>", ...}`. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}
