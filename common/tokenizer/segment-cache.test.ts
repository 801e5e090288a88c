import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.ts';
import { createByteLevelBpe, type BpeTokenizerJson } from './byte-level-bpe.ts';
import { loadModelTokenizer } from './load.ts';
import { createSegmentEncoder } from './segment-cache.ts';

const json = JSON.parse(
  readFileSync(join((await loadModelTokenizer('qwen3')).directory, 'tokenizer.json'), 'utf8'),
) as BpeTokenizerJson & { added_tokens: { id: number; content: string }[] };
const addedTokens = json.added_tokens.map((t) => ({ content: t.content, id: t.id }));

function words(seed: number, count: number): string {
  const rng = createRng(seed);
  const vocabulary = ['alpha', 'beta', 'gamma', 'delta', 'tokens', 'prompt', 'cache', 'the', 'of', '42', ',', '.\n'];
  return Array.from({ length: count }, () => rng.pick(vocabulary)).join(' ');
}

describe('segment encoder', () => {
  it('remembers a long segment from its second sighting, finds it from the third, and gives the same ids every time', () => {
    const encoder = createByteLevelBpe(json)!;
    const segments = createSegmentEncoder({ addedTokens, encoder });
    const system = `<|im_start|>system\n${words(1, 300)}<|im_end|>\n`;
    const plain = (text: string) => encoder.encode(text);
    for (let turn = 0; turn < 4; turn++) {
      const user = `<|im_start|>user\n${words(100 + turn, 40)}<|im_end|>\n<|im_start|>assistant\n`;
      const ids = segments.encode(system + user)!;
      const expected = segments.encode(system + user); // any path: compared with the encoder alone below
      expect(ids).toEqual(expected);
      const [open, end, ...rest] = [...ids.keys()].filter((i) => addedTokens.some((t) => t.id === ids[i]));
      expect(open).toBe(0);
      expect(ids.slice(1, end)).toEqual(plain(`system\n${words(1, 300)}`));
      expect(rest.length).toBeGreaterThan(0);
    }
    // The system segment: seen on turn 0, remembered on turn 0's second encode, found since.
    // Each user segment: seen on its first encode, remembered on its second, never found.
    const stats = segments.stats();
    expect(stats.entries).toBe(1 + 4);
    expect(stats.hits).toBe(6);
  });

  it('remembers nothing of segments seen once: one-off prompts leave no ids behind', () => {
    const encoder = createByteLevelBpe(json)!;
    const segments = createSegmentEncoder({ addedTokens, encoder });
    for (let i = 0; i < 200; i++) {
      const text = words(1000 + i, 200);
      expect(segments.encode(text)).toEqual(encoder.encode(text));
    }
    expect(segments.stats()).toMatchObject({ lookups: 200, hits: 0, entries: 0, ids: 0 });
  });

  it('forgets a segment seen once after maxEntries others, so it is remembered only at its next two sightings', () => {
    const encoder = createByteLevelBpe(json)!;
    const segments = createSegmentEncoder({ addedTokens, encoder, maxEntries: 8 });
    const first = words(7, 100);
    segments.encode(first);
    for (let i = 0; i < 8; i++) segments.encode(words(2000 + i, 100));
    segments.encode(first); // noted again, not remembered
    expect(segments.stats().entries).toBe(0);
    segments.encode(first);
    expect(segments.stats().entries).toBe(1);
    expect(segments.encode(first)).toEqual(encoder.encode(first));
    expect(segments.stats().hits).toBe(1);
  });
});
