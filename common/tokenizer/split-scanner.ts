/**
 * A hand-written pre-tokenizer for the Qwen2/Qwen3 and Llama 3 Split pattern
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * (D = 1 for Qwen, written `\p{N}`; D = 3 for Llama 3), over ASCII text: the end of the piece that
 * starts at a given position, as the regex (Oniguruma's, or its JavaScript translation in
 * byte-level-bpe.ts) would match it there, in a few comparisons per character and no string or
 * match object. Wherever a character at or above U+0080 could change the piece (it might be a
 * letter, a number, a Unicode space or `ſ`, which `(?i:'s)` accepts) it gives up (-1) and the
 * caller matches that one piece with the regex; the next piece is scanned again. Matching the
 * regex from the end of the previous piece gives the same pieces as splitting the whole text
 * (the pattern matches every character, so matches are contiguous), which the randomized test in
 * split-scanner.test.ts checks against the regex itself.
 */

/** The end (exclusive, > at) of the piece starting at `at` (< text.length), or -1 when the regex must decide. */
export type PieceScanner = (text: string, at: number) => number;

const END = 0;
const LETTER = 1;
const DIGIT = 2;
/** Oniguruma's \s in ASCII, apart from CR and LF: tab, U+000B, U+000C, space. */
const SPACE = 3;
const NEWLINE = 4;
/** Any other ASCII character: punctuation, symbols, other controls (not \s, \p{L} or \p{N}). */
const OTHER = 5;
const WIDE = 6;

const ASCII_CLASS = new Uint8Array(128).map((_, c) => {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return LETTER;
  if (c >= 48 && c <= 57) return DIGIT;
  if (c === 10 || c === 13) return NEWLINE;
  if (c === 9 || c === 11 || c === 12 || c === 32) return SPACE;
  return OTHER;
});

const QWEN_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_PATTERN = QWEN_PATTERN.replace('|\\p{N}|', '|\\p{N}{1,3}|');

/**
 * The pieces of a Split (Isolated) by `regex`, one at a time: `(text, at) => end` gives the end
 * (exclusive, > at) of the piece starting at `at`, the end of the previous one. Scanned by hand for
 * a pattern this file knows (the regex only for the pieces the scanner leaves), by the regex
 * otherwise: its next non-empty match from `at`, or the stretch before it (Isolated keeps both).
 */
export function createPieceSplitter(pattern: string, regex: RegExp): PieceScanner {
  const matcher = new RegExp(regex.source, regex.flags.includes('g') ? regex.flags : `${regex.flags}g`);
  const byRegex: PieceScanner = (text, at) => {
    matcher.lastIndex = at;
    for (let match = matcher.exec(text); match !== null; match = matcher.exec(text)) {
      if (match[0] === '') {
        matcher.lastIndex = match.index + 1;
        continue;
      }
      return match.index > at ? match.index : at + match[0].length;
    }
    return text.length;
  };
  const scanner = createPieceScanner(pattern);
  if (scanner === undefined) return byRegex;
  return (text, at) => {
    const end = scanner(text, at);
    return end < 0 ? byRegex(text, at) : end;
  };
}

/** A scanner for a tokenizer.json Split pattern this file knows, else undefined (the regex splits alone). */
export function createPieceScanner(pattern: string): PieceScanner | undefined {
  if (pattern === QWEN_PATTERN) return scannerWithDigits(1);
  if (pattern === LLAMA3_PATTERN) return scannerWithDigits(3);
  return undefined;
}

function scannerWithDigits(maxDigits: number): PieceScanner {
  return (text, at) => scanPiece(text, at, maxDigits);
}

/** The class of the character at `i`: END past the text, WIDE at or above U+0080. */
function classAt(text: string, i: number): number {
  const c = text.charCodeAt(i); // NaN past the end
  return c < 128 ? ASCII_CLASS[c]! : c >= 128 ? WIDE : END;
}

/** The end of a run of letters from `from`; -1 if a wide character ends it (it may be a letter). */
function letterRun(text: string, from: number): number {
  let j = from;
  let c = classAt(text, j);
  while (c === LETTER) c = classAt(text, ++j);
  return c === WIDE ? -1 : j;
}

function scanPiece(text: string, at: number, maxDigits: number): number {
  const first = classAt(text, at);
  if (first === WIDE) return -1;
  const next = classAt(text, at + 1);
  // (?i:'s|'t|'re|'ve|'m|'ll|'d), in that order: the first that matches wins.
  if (text.charCodeAt(at) === 39 && next !== END) {
    if (next === WIDE) return -1; // 'ſ is 's
    const c1 = text.charCodeAt(at + 1) | 32;
    if (c1 === 115 || c1 === 116 || c1 === 109 || c1 === 100) return at + 2; // s t m d
    const second = classAt(text, at + 2);
    const c2 = text.charCodeAt(at + 2) | 32;
    if ((c1 === 114 || c1 === 118) && second !== END) {
      // r v, then e
      if (second === WIDE) return -1;
      if (c2 === 101) return at + 3;
    }
    if (c1 === 108 && second !== END) {
      // l, then l
      if (second === WIDE) return -1;
      if (c2 === 108) return at + 3;
    }
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (first === LETTER) return letterRun(text, at + 1);
  if (first !== NEWLINE && first !== DIGIT) {
    if (next === WIDE) return -1;
    if (next === LETTER) return letterRun(text, at + 2);
  }
  // \p{N}{1,D}
  if (first === DIGIT) {
    let j = at + 1;
    while (j - at < maxDigits && classAt(text, j) === DIGIT) j++;
    return j - at < maxDigits && classAt(text, j) === WIDE ? -1 : j;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const punctuationFrom = first === OTHER ? at : text.charCodeAt(at) === 32 && next === OTHER ? at + 1 : -1;
  if (punctuationFrom >= 0) {
    let j = punctuationFrom + 1;
    let c = classAt(text, j);
    while (c === OTHER) c = classAt(text, ++j);
    if (c === WIDE) return -1;
    while (c === NEWLINE) c = classAt(text, ++j);
    return j;
  }
  // Whitespace from here on: its run, and the last CR or LF in it.
  let end = at;
  let lastNewline = -1;
  for (let c = first; c === SPACE || c === NEWLINE; c = classAt(text, ++end)) if (c === NEWLINE) lastNewline = end;
  if (classAt(text, end) === WIDE) return -1; // a Unicode space would lengthen the run
  if (lastNewline >= 0) return lastNewline + 1; // \s*[\r\n]+ backs off to its last CR or LF
  if (end === text.length || end - at === 1) return end; // \s+(?!\S) to the end, or a single \s+
  return end - 1; // \s+(?!\S) leaves the last space to the word that follows
}
