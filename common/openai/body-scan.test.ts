import { describe, expect, it } from 'vitest';
import { countWordBreaks } from '../tokenizer/word-bound.ts';
import { createBodyScanner, type BodyScanOptions } from './body-scan.ts';

const chat: BodyScanOptions = { prompt: 'chat', maxDepth: undefined };
const completion: BodyScanOptions = { prompt: 'completion', maxDepth: undefined };

/** The scanner's verdict on `body` fed in chunks of the given sizes (cycled), or whole. */
function scan(options: BodyScanOptions, body: string | Buffer, sizes: readonly number[] = []) {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const scanner = createBodyScanner(options);
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = sizes.length === 0 ? bytes.length : sizes[k % sizes.length]!;
    if (!scanner.push(bytes.subarray(at, at + size))) break;
    at += size;
  }
  return { ...scanner.promptLength(), tooDeep: scanner.tooDeep };
}

/** The exact counts for a text the scanner counts: trimmed, its units and ASCII characters; its word breaks. */
function truth(...texts: string[]) {
  let units = 0;
  let ascii = 0;
  let words = 0;
  for (const text of texts) {
    const trimmed = text.trim();
    units += trimmed.length;
    for (const c of trimmed) if (c.charCodeAt(0) < 0x80) ascii++;
    words += countWordBreaks(text);
  }
  return { units, ascii, words };
}

/** JSON as Python's json.dumps writes it by default (ensure_ascii): every non-ASCII unit as \uXXXX. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

describe('the body scan: prompt text', () => {
  it("counts a completion's prompt, a string or the strings of an array, and nothing else", () => {
    const body = { model: 'm', prompt: 'Hello world', user: 'not counted', stop: ['no'] };
    expect(scan(completion, JSON.stringify(body))).toMatchObject(truth('Hello world'));
    expect(scan(completion, JSON.stringify({ prompt: ['one two', ' three '] }))).toMatchObject(
      truth('one two', 'three'),
    );
    expect(scan(completion, JSON.stringify({ prompt: [[1, 2, 3]] }))).toMatchObject({ units: 0, ascii: 0 });
    // The other endpoint's field, or none at all, counts nothing.
    expect(scan(chat, JSON.stringify(body))).toMatchObject({ units: 0, ascii: 0 });
    expect(scan({ prompt: undefined, maxDepth: 8 }, JSON.stringify(body))).toMatchObject({ units: 0, ascii: 0 });
  });

  it("counts a chat's non-assistant content, whatever the order of role and content", () => {
    const body = {
      messages: [
        { role: 'system', content: 'You are terse.' },
        { content: 'content before role', role: 'user' },
        { role: 'assistant', content: '<think>long thoughts</think>answer' },
        { content: 'assistant, role last', role: 'assistant' },
        {
          role: 'tool',
          content: [{ type: 'text', text: 'part one' }, 'bare part', { text: 'type after', type: 'text' }],
        },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:xxxxxxxx' } },
            { type: 'input_text', text: 'x y' },
          ],
        },
        { role: 'user', content: [{ text: 'no type: counts nothing' }, { type: 'thinking', text: 'not a text part' }] },
        { content: 'no role: counts nothing' },
      ],
      tools: [{ type: 'function', function: { name: 'f', description: 'not counted' } }],
      max_tokens: 5,
    };
    const expected = truth('You are terse.', 'content before role', 'part one', 'bare part', 'type after', 'x y');
    expect(scan(chat, JSON.stringify(body))).toMatchObject(expected);
    expect(scan(chat, JSON.stringify(body, null, 2))).toMatchObject(expected);
  });

  it('counts the text being read before its closing quote, so a refusal need not wait for it', () => {
    const scanner = createBodyScanner(completion);
    scanner.push(Buffer.from(`{"prompt": "${'a'.repeat(1000)}`));
    expect(scanner.promptLength()).toEqual({ units: 1000, ascii: 1000, words: 0 });
    scanner.push(Buffer.from(' b\\nc\\u0020'));
    expect(scanner.promptLength()).toEqual({ units: 1004, ascii: 1004, words: 2 });
    const held = createBodyScanner(chat);
    held.push(Buffer.from(`{"messages": [{"content": "${'a '.repeat(500)}`));
    expect(held.promptLength()).toEqual({ units: 0, ascii: 0, words: 0 }); // no role yet
    held.push(Buffer.from(`", "role": "user"`));
    expect(held.promptLength()).toEqual({ units: 999, ascii: 999, words: 499 });
  });

  it('decodes escapes, drops surrounding whitespace, and reads escaped keys and roles as JSON.parse does', () => {
    const text = '  \t"quoted" \\ back\nslash \u00e9t\u00e9 \u4e2d\u6587 \u3000\n ';
    expect(scan(completion, JSON.stringify({ prompt: text }))).toMatchObject(truth(text));
    expect(scan(completion, asciiJson({ prompt: text }))).toMatchObject(truth(text));
    expect(
      scan(
        chat,
        '{"m\\u0065ssages": [{"role": "\\u0061ssistant", "content": "x"}, {"role": "us\\u0065r", "content": "yz"}]}',
      ),
    ).toMatchObject(truth('yz'));
  });

  it('never counts more than the truth, and gives the same count however the bytes are split', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = [
      'a',
      'Z',
      ' ',
      '\n',
      '\t',
      '"',
      '\\',
      '/',
      '\u00e9',
      '\u00a0',
      '\u00b7', // a word character whose UTF-8 lead byte (C2) the raw scan cannot tell from U+00A0's
      '\u2014',
      '\u4e2d',
      '\u3000',
      '\u2003',
      '\ufeff',
      '\u{1f600}',
      '\u0001',
      '{',
      ']',
      ',',
    ];
    const text = (n: number) =>
      Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    for (let round = 0; round < 60; round++) {
      const texts = [text(1 + Math.floor(random() * 40)), text(1 + Math.floor(random() * 40))];
      const body = {
        messages: [
          { role: 'user', content: texts[0] },
          { role: 'tool', content: [{ type: 'text', text: texts[1] }] },
        ],
      };
      for (const json of [JSON.stringify(body), asciiJson(body)]) {
        const whole = scan(chat, json);
        const exact = truth(...texts);
        expect(whole.units, json).toBeLessThanOrEqual(exact.units);
        expect(whole.ascii, json).toBeLessThanOrEqual(exact.ascii);
        expect(whole.words, json).toBeLessThanOrEqual(exact.words);
        // Escaped, every character is known: ASCII and word breaks exact. Raw, a character led by C2 or E2 may be whitespace.
        if (!/[\u0080-\uffff]/.test(json))
          expect(whole, json).toMatchObject({ ascii: exact.ascii, words: exact.words });
        for (const sizes of [[1], [2], [3], [5, 1, 7], [13]]) expect(scan(chat, json, sizes), json).toEqual(whole);
      }
    }
  });

  it('counts long plain-ASCII runs (counted natively) exactly, whitespace at their edges and across chunks included', () => {
    const line = 'the quick brown fox jumps over the lazy dog';
    const texts = [
      `   ${line} ${line}   `,
      `${line}\n${line}\t  \n`.repeat(20),
      `${' '.repeat(100)}${line.repeat(5)}${' '.repeat(100)}x`,
      `\u00e9${line.repeat(3)}\u3000${' '.repeat(40)}`,
      ' '.repeat(300),
    ];
    for (const text of texts) {
      const json = JSON.stringify({ prompt: [text, text] });
      const whole = scan(completion, json);
      expect(whole, text).toMatchObject(truth(text, text));
      for (const sizes of [[1], [7], [31], [33], [64], [100, 3]])
        expect(scan(completion, json, sizes), text).toEqual(whole);
    }
  });

  it('counts the word breaks of long ASCII runs exactly four bytes at a time, whatever their alignment, splits and raw control bytes', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    // Raw in the body: the tab, 0x01 (a word character) and 0x1c (neutral) make it invalid JSON,
    // which the scan must still count as the reference does; runs without them take the 4-byte path.
    const pieces = ['lorem', 'a', 'ipsum!', ' ', ' ', '   ', '\t', '\u0001', '\u001c', 'x'.repeat(40), ' '.repeat(40)];
    const printable = pieces.filter((piece) => [...piece].every((c) => c.charCodeAt(0) >= 0x20));
    for (let round = 0; round < 40; round++) {
      const usable = round % 2 === 0 ? pieces : printable;
      const raw = Array.from(
        { length: 50 + Math.floor(random() * 400) },
        () => usable[Math.floor(random() * usable.length)]!,
      ).join('');
      const bytes = Buffer.from(`{"prompt": "${raw}"}`, 'latin1');
      const exact = countWordBreaks(raw);
      for (let offset = 0; offset < 4; offset++) {
        const backing = new Uint8Array(bytes.length + 4);
        backing.set(bytes, offset);
        const body = Buffer.from(backing.buffer, offset, bytes.length);
        for (const sizes of [[], [1], [7], [64], [100, 3], [1000]])
          expect(scan(completion, body, sizes).words, `${JSON.stringify(raw)} at ${offset} by ${sizes}`).toBe(exact);
      }
    }
  });

  it('counts ASCII text exactly and other text by its characters (a 4-byte one counts 1 unit of its 2)', () => {
    expect(scan(completion, JSON.stringify({ prompt: 'caf\u00e9 \u4e2d\u{1f600}x' }))).toMatchObject({
      units: 8,
      ascii: 5,
    });
  });
});

describe('the body scan: nesting depth', () => {
  it('counts only brackets outside strings, escapes included', () => {
    const deep = (body: string, limit: number) => scan({ prompt: undefined, maxDepth: limit }, body).tooDeep;
    expect(deep('{"a":[[1]]}', 3)).toBe(false);
    expect(deep('{"a":[[[1]]]}', 3)).toBe(true);
    expect(deep('{"a":"[[[[{{{{\\"[[[["}', 1)).toBe(false);
    expect(deep('[]'.repeat(1000), 1)).toBe(false);
    // An escaped backslash ends before the quote: the brackets after it count.
    expect(deep('{"a":"x\\\\","b":[[1]]}', 2)).toBe(true);
    expect(deep('{"a":"x\\\\\\"[[","b":[1]}', 2)).toBe(false);
    expect(scan({ prompt: 'chat', maxDepth: 3 }, '{"messages":[{"content":"[[[[","role":"user"}]}').tooDeep).toBe(
      false,
    );
  });

  it('stops at the first level past the bound, whatever follows', () => {
    const scanner = createBodyScanner({ prompt: 'completion', maxDepth: 128 });
    expect(scanner.push(Buffer.from('['.repeat(129)))).toBe(false);
    expect(scanner.tooDeep).toBe(true);
    expect(scanner.push(Buffer.from(']'))).toBe(false);
    expect(scan({ prompt: undefined, maxDepth: 128 }, '['.repeat(128) + ']'.repeat(128), [7]).tooDeep).toBe(false);
  });
});
