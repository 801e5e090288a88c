import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.ts';
import { translatePattern } from './byte-level-bpe.ts';
import { loadModelTokenizer } from './load.ts';
import { createPieceScanner, createPieceSplitter } from './split-scanner.ts';

const QWEN = JSON.parse(
  readFileSync(join((await loadModelTokenizer('qwen3')).directory, 'tokenizer.json'), 'utf8'),
) as { pre_tokenizer: { pretokenizers: { pattern: { Regex: string } }[] } };
const QWEN_PATTERN = QWEN.pre_tokenizer.pretokenizers[0]!.pattern.Regex;
/** Llama 3's pattern: Qwen's with numbers in runs of up to three. */
const LLAMA3_PATTERN = QWEN_PATTERN.replace('|\\p{N}|', '|\\p{N}{1,3}|');

/** The pieces the regex alone gives (every character is in some match for these patterns). */
function regexPieces(regex: RegExp, text: string): string[] {
  const pieces = text.match(regex) ?? [];
  expect(pieces.join('')).toBe(text);
  return pieces;
}

function splitterPieces(split: (text: string, at: number) => number, text: string): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < text.length; ) {
    const end = split(text, at);
    expect(end).toBeGreaterThan(at);
    pieces.push(text.slice(at, end));
    at = end;
  }
  return pieces;
}

/**
 * ASCII pieces that exercise every alternative: contractions in both cases and near misses,
 * whitespace runs with and without CR/LF, punctuation runs, digit runs.
 */
const ASCII = [
  "'s",
  "'S",
  "'t",
  "'re",
  "'RE",
  "'rE",
  "'ve",
  "'Ve",
  "'m",
  "'ll",
  "'lL",
  "'l",
  "'r",
  "'v",
  "'d",
  "'D",
  "'x",
  "'",
  "''",
  "don't",
  'a',
  'Z',
  'word',
  ' word',
  'camelCase',
  '0',
  '7',
  '42',
  '2024',
  '3.14',
  ' ',
  '  ',
  '    ',
  '\t',
  '\v',
  '\f',
  '\r',
  '\n',
  '\r\n',
  '\n\n',
  ' \n',
  '\n ',
  ' \t \n \r ',
  '.',
  ',',
  '!?',
  '...',
  ' .',
  ' (',
  '()',
  '{}',
  '=>',
  '#',
  '$',
  '_',
  '-',
  '`',
  '\\',
  '"',
  '\u0000',
  '\u001c',
  '\u001f',
  '\u007f',
];
/**
 * Characters at or above U+0080 next to which a piece may end differently: letters (ſ folds to s,
 * K to k), numbers, Unicode spaces, symbols, surrogate pairs.
 */
const WIDE = [
  'é',
  'ſ',
  '\u212a',
  'ñ',
  'Ω',
  '你',
  '한',
  '١',
  '²',
  '½',
  '𝟘',
  '\u0085',
  '\u00a0',
  '\u1680',
  '\u2003',
  '\u2028',
  '\u3000',
  '\ufeff',
  '\u200b',
  '—',
  '«',
  '€',
  '🌍',
  '\u0301',
];

function randomText(seed: number, wide: boolean): string {
  const rng = createRng(seed);
  let text = '';
  for (let i = 0, n = 1 + rng.int(60); i < n; i++) text += wide && rng.next() < 0.25 ? rng.pick(WIDE) : rng.pick(ASCII);
  return text;
}

describe.each([
  ['Qwen3', QWEN_PATTERN],
  ['Llama 3', LLAMA3_PATTERN],
])('piece splitter for the %s pattern', (_name, pattern) => {
  const regex = translatePattern(pattern)!;
  const split = createPieceSplitter(pattern, regex);
  const scanner = createPieceScanner(pattern)!;

  it('is scanned by hand (the pattern is recognised)', () => {
    expect(scanner).toBeDefined();
  });

  it('splits 4,000 random ASCII texts as the regex does, by hand alone (never handing a piece to the regex)', () => {
    for (let seed = 1; seed <= 4000; seed++) {
      const text = randomText(seed, false);
      expect(splitterPieces(split, text), JSON.stringify(text)).toEqual(regexPieces(regex, text));
      for (let at = 0; at < text.length; at = scanner(text, at)) expect(scanner(text, at)).toBeGreaterThan(at);
    }
  });

  it('splits 4,000 random texts mixing in letters, numbers, spaces and symbols above U+007F as the regex does', () => {
    for (let seed = 1; seed <= 4000; seed++) {
      const text = randomText(100_000 + seed, true);
      expect(splitterPieces(split, text), JSON.stringify(text)).toEqual(regexPieces(regex, text));
    }
  });

  it('splits every two- and three-character string over a small alphabet as the regex does', () => {
    const alphabet = ["'", 's', 'R', 'e', 'l', 'x', '1', ' ', '\t', '\n', '\r', '.', 'ſ', 'é', '²', '\u00a0', '—'];
    for (const a of alphabet)
      for (const b of alphabet) {
        for (const text of [a + b, ...alphabet.map((c) => a + b + c)])
          expect(splitterPieces(split, text), JSON.stringify(text)).toEqual(regexPieces(regex, text));
      }
  });

  it("splits this repository's source and Markdown as the regex does", () => {
    const root = join(import.meta.dirname, '..', '..');
    const files = ['common/tokenizer/byte-level-bpe.ts', 'common/tokenizer/README.md', 'README.md', 'package.json'];
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      expect(splitterPieces(split, text)).toEqual(regexPieces(regex, text));
    }
  });
});

it('leaves other patterns (GPT-2) to the regex', () => {
  const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  expect(createPieceScanner(gpt2)).toBeUndefined();
  const regex = translatePattern(gpt2)!;
  const split = createPieceSplitter(gpt2, regex);
  for (let seed = 1; seed <= 300; seed++) {
    const text = randomText(seed, true);
    expect(splitterPieces(split, text)).toEqual(regexPieces(regex, text));
  }
});
