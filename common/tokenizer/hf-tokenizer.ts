import { Tokenizer as NativeTokenizer } from '@anush008/tokenizers';
import { fail, ok, TandemError, type Result } from '../errors.ts';
import { createByteLevelDetokenizer, createByteTable } from './byte-level.ts';
import { createOffsetDetokenizer } from './offset-detokenizer.ts';
import type { Tokenizer } from './tokenizer.ts';

/**
 * A Hugging Face `tokenizer.json` behind the Tokenizer interface. Encoding and whole-sequence
 * decoding run in the native `tokenizers` library on the libuv thread pool, off the event loop;
 * streaming decoding is synchronous and cheap (see byte-level.ts and offset-detokenizer.ts).
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
}

interface AddedToken {
  readonly content: string;
  readonly special: boolean;
}

/** The parts of tokenizer.json read in JavaScript (the native library reads the rest). */
interface TokenizerJsonHead {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  decoder?: { type?: string } | null;
}

export function createHfTokenizer(options: HfTokenizerOptions): Result<Tokenizer> {
  let head: TokenizerJsonHead;
  let native: NativeTokenizer;
  try {
    head = JSON.parse(options.tokenizerJson) as TokenizerJsonHead;
    native = NativeTokenizer.fromString(options.tokenizerJson);
  } catch (error) {
    return fail(new TandemError('invalid_request', `tokenizer.json cannot be loaded: ${(error as Error).message}`, { cause: error }));
  }
  const addedTokens = new Map<number, AddedToken>();
  for (const token of head.added_tokens ?? []) addedTokens.set(token.id, { content: token.content, special: token.special === true });
  const vocabSize = native.getVocabSize(true);
  const isSpecial = (id: number) => addedTokens.get(id)?.special === true;
  const inRange = (id: number) => Number.isInteger(id) && id >= 0 && id < vocabSize;
  const tokenText = (id: number) => (inRange(id) ? native.idToToken(id) : null);
  const eosText = tokenContent(options.eosToken);
  const eosTokenId = eosText === undefined ? undefined : (native.tokenToId(eosText) ?? undefined);

  const kind: DetokenizerKind = options.detokenizer ?? (head.decoder?.type === 'ByteLevel' ? 'byte-level' : 'offsets');
  const nativeDecoder = native.getDecoder();
  if (kind === 'offsets' && nativeDecoder === null) {
    return fail(new TandemError('invalid_request', 'tokenizer.json has no decoder; streaming detokenization needs one'));
  }
  const bytesOf = createByteTable({ tokenText, addedTokens });

  return ok({
    vocabSize,
    eosTokenId,
    isSpecial,
    async encode(text, { addSpecialTokens }) {
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

/** A special token as tokenizer_config.json spells it: `"<s>"` or `{"content": "<s>", ...}`. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}
