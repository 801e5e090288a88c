import { spellingToBytes } from './byte-level.ts';

/**
 * A lower bound on a byte-level BPE tokenizer's ids from the words of a text, far tighter than the
 * length bound for ordinary text (one id per ~6 bytes of English instead of one per 128 bytes), and
 * sound only for a vocabulary that keeps words apart, which `vocabularyKeepsWordsApart` checks once
 * when the tokenizer loads.
 *
 * Characters fall in three classes, the same here and in the body scan (common/openai/body-scan.ts):
 * - a separator: ASCII whitespace, U+0009-U+000D and U+0020 (`isWordSeparator`);
 * - neutral: any other Unicode whitespace (U+001C-U+001F, U+0085, U+00A0, U+1680, U+2000-U+200A,
 *   U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF: `isNeutralSpace`); a scan that cannot tell a
 *   character from these treats it as neutral too;
 * - a word character: everything else.
 *
 * Claim: when no vocabulary entry (base or added) holds a word character, then a separator, then a
 * word character (anything between), two word characters with a separator between them are never
 * covered by one id: every id covers a contiguous span of the normalized text, and a span holding
 * both would be such an entry. NFC (the only normalizer the fast encoder takes) keeps this: it
 * never composes, decomposes or reorders a separator (ASCII starters with no composition), and
 * never turns a word character into whitespace (the only whitespace with a canonical decomposition,
 * U+2000 and U+2001, is whitespace itself). So in one string, a word (a run between separators)
 * holding a word character that is followed by separators and then another word character of the
 * same string is an id of its own: the ids of any text containing that string number at least
 * those breaks. Counted per string and summed, the bound survives whatever a template puts around
 * and between the strings, and a template that trims them (trimming removes only whitespace at the
 * edges, which no break counts).
 */

/** Whether a UTF-16 unit (or byte) separates words: ASCII whitespace. */
export function isWordSeparator(unit: number): boolean {
  return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d);
}

/** Whether a code point is whitespace other than a separator (to JavaScript's trim, Python's strip or Oniguruma's \s). */
export function isNeutralSpace(code: number): boolean {
  if (code < 0x80) return code >= 0x1c && code <= 0x1f;
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** A byte-level spelling holding a separator after some other character: only these need a closer look. */
const SEPARATOR_AFTER_OTHER = /[^\t-\r \u0109-\u010d\u0120][\t-\r \u0109-\u010d\u0120]/;

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * Whether no entry spans two words: the condition under which words bound ids (see above).
 * `spellings` are the base vocabulary's byte-level spellings (decoded to their bytes, then to text:
 * a byte sequence cut at an entry's edge becomes U+FFFD, a word character, which can only make the
 * answer false); `added` are added tokens' contents, taken as text.
 */
export function vocabularyKeepsWordsApart(spellings: Iterable<string>, added: Iterable<string>): boolean {
  for (const spelling of spellings) {
    if (!SEPARATOR_AFTER_OTHER.test(spelling)) continue;
    if (spansWords(decoder.decode(spellingToBytes(spelling)))) return false;
  }
  for (const content of added) if (spansWords(content)) return false;
  return true;
}

/** Whether a text holds a word character, then a separator, then a word character. */
export function spansWords(text: string): boolean {
  return countWordBreaks(text) > 0;
}

/**
 * The word breaks of one string: the word characters that come after a separator that comes after
 * a word character (each such place ends a word that is an id of its own). The body scan counts the
 * same incrementally; this is the reference its tests and the bound's tests compare with.
 */
export function countWordBreaks(text: string): number {
  let breaks = 0;
  let word = false;
  let separated = false;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (isWordSeparator(code)) separated = word;
    else if (!isNeutralSpace(code)) {
      if (separated) breaks++;
      separated = false;
      word = true;
    }
  }
  return breaks;
}
