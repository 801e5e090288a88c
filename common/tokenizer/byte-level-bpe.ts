/**
 * A synchronous byte-level BPE encoder in JavaScript for the tokenizer.json pipelines of Qwen,
 * Llama 3, GPT-2 and their kin: normalizer none or NFC; pre-tokenizer a regex Split (Isolated)
 * followed by ByteLevel without its own regex, or ByteLevel with the GPT-2 regex; a BPE model
 * without dropout, prefixes or suffixes. For those it gives the ids Hugging Face's tokenizers
 * gives (checked against the native library on randomized text in tokenizer.test.ts), at a
 * fraction of the cost of a native call for a prompt-sized text: no thread-pool hop, no
 * Encoding object, and a cache of pre-tokenized words (most words of a prompt were seen before).
 * `createByteLevelBpe` returns undefined for any other pipeline; the caller then uses the
 * native library.
 *
 * Encodes one segment free of added tokens (the caller splits those out, as the native library
 * does before normalizing). A piece longer than MAX_PIECE_BYTES makes `encode` return undefined
 * (the merge loop is quadratic in a piece's length; the native library takes such texts).
 */

import { createPieceScanner, createPieceSplitter } from './split-scanner.ts';
import { createWordTable } from './word-table.ts';

export interface ByteLevelBpe {
  /**
   * Ids of a text holding no added token, or undefined when it needs the native library. With
   * `maxIds`, stops as soon as more than `maxIds` ids are known (the result is then the first
   * `maxIds + 1` or more of them): the pieces are walked in order and nothing past that is
   * split or merged, so a huge text costs what its first `maxIds` ids cost (plus its NFC
   * normalization when it is not pure ASCII).
   */
  encode(text: string, maxIds?: number): number[] | undefined;
  /**
   * `encode` appending to `out` (no array of its own, no copy): false, with `out` in an
   * unspecified state, when the text needs the native library. With `maxLength`, stops as soon
   * as `out` holds more than `maxLength` ids.
   */
  encodeInto(text: string, out: number[], maxLength?: number): boolean;
  /** Bytes in the longest vocabulary entry: no id of this encoder stands for more bytes of normalized text. */
  readonly longestTokenBytes: number;
}

/** The parts of tokenizer.json this encoder reads. */
export interface BpeTokenizerJson {
  readonly normalizer?: { readonly type?: string } | null;
  readonly pre_tokenizer?: PreTokenizerJson | null;
  readonly model?: {
    readonly type?: string;
    readonly dropout?: number | null;
    readonly continuing_subword_prefix?: string | null;
    readonly end_of_word_suffix?: string | null;
    readonly ignore_merges?: boolean;
    readonly vocab?: Readonly<Record<string, number>>;
    readonly merges?: readonly (string | readonly [string, string])[];
  };
}

interface PreTokenizerJson {
  readonly type?: string;
  readonly pretokenizers?: readonly PreTokenizerJson[];
  readonly pattern?: { readonly Regex?: string; readonly String?: string };
  readonly behavior?: string;
  readonly invert?: boolean;
  readonly add_prefix_space?: boolean;
  readonly use_regex?: boolean;
}

const MAX_PIECE_BYTES = 512;
/** A character NFC might change or combine: any at U+0300 or above (combining marks start there). */
const NFC_MAY_CHANGE = /[\u0300-\u{10ffff}]/u;
/** Pre-tokenized words remembered (FIFO beyond this): a word's ids are reused across prompts. */
const WORD_CACHE_ENTRIES = 100_000;
/** Unicode case folding beyond ASCII for `(?i:...)`: the long s and the Kelvin sign. */
const FOLDS: Readonly<Record<string, string>> = { s: '\u017f', k: '\u212a' };
/** GPT-2's ByteLevel regex (used when ByteLevel has use_regex: true). */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/** Oniguruma's \s for Unicode text (the regex engine Hugging Face's tokenizers uses); JavaScript's differs (U+FEFF, U+0085). */
const ONIG_SPACE = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

export function createByteLevelBpe(json: BpeTokenizerJson): ByteLevelBpe | undefined {
  const normalizer = json.normalizer?.type;
  if (normalizer !== undefined && normalizer !== 'NFC') return undefined;
  const pattern = splitPattern(json.pre_tokenizer);
  if (pattern === undefined) return undefined;
  const regex = translatePattern(pattern);
  if (regex === undefined) return undefined;
  // Qwen's and Llama 3's pattern are split by hand (split-scanner.ts), a third to a fifth the
  // cost of the regex; any other in one native call per text (splitIsolated).
  const scan = createPieceScanner(pattern) === undefined ? undefined : createPieceSplitter(pattern, regex);
  const model = json.model;
  if (
    model?.type !== 'BPE' ||
    model.dropout ||
    model.continuing_subword_prefix ||
    model.end_of_word_suffix ||
    !model.vocab ||
    !model.merges
  )
    return undefined;

  const vocab = new Map<string, number>(Object.entries(model.vocab));
  const byteChars = byteToChar();
  const byteIds = byteChars.map((c) => vocab.get(c));
  if (byteIds.some((id) => id === undefined)) return undefined; // not a byte-level vocabulary
  // A merge as small integers: left id -> right id -> index into rank / merged id.
  const mergesOf = new Map<number, Map<number, number>>();
  const rankAt: number[] = [];
  const mergedAt: number[] = [];
  for (const [rank, merge] of model.merges.entries()) {
    const [a, b] = typeof merge === 'string' ? splitMerge(merge) : merge;
    if (a === undefined || b === undefined) return undefined;
    const left = vocab.get(a);
    const right = vocab.get(b);
    const merged = vocab.get(a + b);
    if (left === undefined || right === undefined || merged === undefined) return undefined; // the native library refuses such a file too
    let rights = mergesOf.get(left);
    if (rights === undefined) mergesOf.set(left, (rights = new Map()));
    if (!rights.has(right)) {
      rights.set(right, rankAt.length);
      rankAt.push(rank);
      mergedAt.push(merged);
    }
  }
  const ignoreMerges = model.ignore_merges === true;
  /** Pre-tokenized words seen before and their ids (word-table.ts: most words of a prompt were seen before). */
  const words = createWordTable({ maxEntries: WORD_CACHE_ENTRIES });
  const encoder = new TextEncoder();

  /** Ids of one pre-tokenized piece (byte-level BPE: lowest-ranked pair first, all its occurrences left to right). */
  const bpe = (piece: string): number[] | undefined => {
    const bytes = encoder.encode(piece);
    if (bytes.length > MAX_PIECE_BYTES) return undefined;
    if (ignoreMerges) {
      let spelled = '';
      for (let i = 0; i < bytes.length; i++) spelled += byteChars[bytes[i]!]!;
      const whole = vocab.get(spelled);
      if (whole !== undefined) return [whole];
    }
    let symbols: number[] = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) symbols[i] = byteIds[bytes[i]!]!;
    while (symbols.length > 1) {
      let best = Number.POSITIVE_INFINITY;
      let bestAt = -1;
      let left = -1;
      let right = -1;
      for (let i = 0; i < symbols.length - 1; i++) {
        const at = mergesOf.get(symbols[i]!)?.get(symbols[i + 1]!);
        if (at !== undefined && rankAt[at]! < best) {
          best = rankAt[at]!;
          bestAt = at;
          left = symbols[i]!;
          right = symbols[i + 1]!;
        }
      }
      if (bestAt < 0) break;
      const merged = mergedAt[bestAt]!;
      const next: number[] = [];
      for (let i = 0; i < symbols.length; ) {
        if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) {
          next.push(merged);
          i += 2;
        } else next.push(symbols[i++]!);
      }
      symbols = next;
    }
    return symbols;
  };

  /** Appends the ids of the piece text[start, end) to `out`; false when the piece needs the native library. */
  const push = (text: string, start: number, end: number, out: number[]): boolean => {
    if (words.find(text, start, end, out)) return true;
    const encoded = bpe(start === 0 && end === text.length ? text : text.slice(start, end));
    if (encoded === undefined) return false;
    words.add(text, start, end, encoded);
    for (let i = 0; i < encoded.length; i++) out.push(encoded[i]!);
    return true;
  };
  let longestTokenBytes = 1;
  // A byte-level vocabulary spells each byte as one character (byteToChar).
  for (const token of vocab.keys()) longestTokenBytes = Math.max(longestTokenBytes, token.length);

  const encodeInto = (text: string, out: number[], maxLength?: number): boolean => {
    // Below U+0300 every character is its own NFC (no combining marks, no singletons, no
    // Hangul), so such a text skips ICU's normalizer (a quarter of a prompt's encoding time).
    const normalized = normalizer === 'NFC' && NFC_MAY_CHANGE.test(text) ? text.normalize('NFC') : text;
    if (scan !== undefined) {
      for (let at = 0; at < normalized.length; ) {
        const end = scan(normalized, at);
        if (!push(normalized, at, end, out)) return false;
        if (maxLength !== undefined && out.length > maxLength) return true;
        at = end;
      }
      return true;
    }
    // A text has no more pieces than characters, so one of at most room + 1 characters is split
    // in one native call (a third cheaper than the walk below) at no more cost than the bound
    // allows. A longer one is walked piece by piece and left as soon as the bound is passed: a
    // huge text costs what its first ids cost.
    if (maxLength === undefined || normalized.length <= maxLength - out.length + 1) {
      const pieces = splitIsolated(regex, normalized);
      for (let p = 0; p < pieces.length; p++) {
        const piece = pieces[p]!;
        if (!push(piece, 0, piece.length, out)) return false;
        if (maxLength !== undefined && out.length > maxLength) return true;
      }
      return true;
    }
    for (const piece of isolatedPieces(regex, normalized)) {
      if (!push(piece, 0, piece.length, out)) return false;
      if (out.length > maxLength) return true;
    }
    return true;
  };

  return {
    longestTokenBytes,
    encodeInto,
    encode(text, maxIds) {
      const out: number[] = [];
      return encodeInto(text, out, maxIds) ? out : undefined;
    },
  };
}

/** The pieces of splitIsolated one at a time, so a caller that stops early splits no further. */
function* isolatedPieces(regex: RegExp, text: string): Generator<string> {
  const walker = new RegExp(regex.source, regex.flags);
  let end = 0;
  for (let match = walker.exec(text); match !== null; match = walker.exec(text)) {
    if (match[0] === '') {
      walker.lastIndex++;
      continue;
    }
    if (match.index > end) yield text.slice(end, match.index);
    yield match[0];
    end = match.index + match[0].length;
  }
  if (end < text.length) yield text.slice(end);
}

/**
 * The pieces of a Split with the Isolated behaviour: every match, and every stretch between
 * matches, in order. One native `match` call when the matches cover the text (they do for the
 * usual patterns, which match any character); a match-by-match walk otherwise.
 */
function splitIsolated(regex: RegExp, text: string): string[] {
  const matches: string[] = text.match(regex) ?? [];
  let covered = 0;
  for (let i = 0; i < matches.length; i++) covered += matches[i]!.length;
  if (covered === text.length && !matches.includes('')) return matches;
  const pieces: string[] = [];
  regex.lastIndex = 0;
  let end = 0;
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    if (match[0] === '') {
      regex.lastIndex++;
      continue;
    }
    if (match.index > end) pieces.push(text.slice(end, match.index));
    pieces.push(match[0]);
    end = match.index + match[0].length;
  }
  if (end < text.length) pieces.push(text.slice(end));
  return pieces;
}

/** The Split regex of a supported pre-tokenizer, else undefined. */
function splitPattern(pre: PreTokenizerJson | null | undefined): string | undefined {
  if (!pre) return undefined;
  const plainByteLevel = (p: PreTokenizerJson | undefined) =>
    p?.type === 'ByteLevel' && p.add_prefix_space !== true && p.use_regex === false;
  if (pre.type === 'ByteLevel')
    return pre.add_prefix_space !== true && pre.use_regex !== false ? GPT2_PATTERN : undefined;
  if (pre.type !== 'Sequence' || pre.pretokenizers?.length !== 2) return undefined;
  const [split, byteLevel] = pre.pretokenizers;
  if (split?.type !== 'Split' || split.behavior !== 'Isolated' || split.invert === true || !plainByteLevel(byteLevel))
    return undefined;
  if (split.pattern?.Regex !== undefined) return split.pattern.Regex;
  return undefined;
}

/**
 * An Oniguruma pattern as a JavaScript regex with the same matches, for the constructs these
 * tokenizers use: `(?i:...)` groups of literals, `\s` / `\S`, `\p{L}` / `\p{N}`, lookahead.
 * Anything else that JavaScript reads differently (possessive or atomic groups, other inline
 * flags, `\S` inside a class) gives undefined.
 */
export function translatePattern(pattern: string): RegExp | undefined {
  const source = pattern.replace(
    /\(\?i:([^()[\]\\]*)\)/g,
    (_, body: string) =>
      `(?:${body.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}${FOLDS[c.toLowerCase()] ?? ''}]`)})`,
  );
  let inClass = false;
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '\\') {
      if (next === undefined) return undefined;
      if (next === 's') out += inClass ? ONIG_SPACE : `[${ONIG_SPACE}]`;
      else if (next === 'S') {
        if (inClass) return undefined;
        out += `[^${ONIG_SPACE}]`;
      } else if (next === 'p' || next === 'P') {
        const close = source.indexOf('}', i);
        if (source[i + 2] !== '{' || close < 0) return undefined;
        out += source.slice(i, close + 1);
        i = close;
        continue;
      } else if ('rntfv'.includes(next) || !/[0-9A-Za-z]/.test(next)) out += c + next;
      else return undefined; // \d, \w, \b, \h ...: other meanings in JavaScript
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && next === '?' && !/^\(\?(:|=|!|<=|<!)/.test(source.slice(i)))
      return undefined; // atomic groups, inline flags
    else if ((c === '*' || c === '+' || c === '?' || (c === '}' && /\{\d+(,\d*)?$/.test(out))) && next === '+')
      return undefined; // possessive
    out += c;
  }
  try {
    return new RegExp(out, 'gu');
  } catch {
    return undefined;
  }
}

function splitMerge(merge: string): [string | undefined, string | undefined] {
  const at = merge.indexOf(' ');
  return at < 0 ? [undefined, undefined] : [merge.slice(0, at), merge.slice(at + 1)];
}

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for U+0100 onwards. */
function byteToChar(): string[] {
  const chars: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    chars[b] = String.fromCharCode(printable ? b : next++);
  }
  return chars;
}
