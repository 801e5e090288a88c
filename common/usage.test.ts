import { describe, expect, it } from 'vitest';
import { usageCounts } from './usage.ts';

describe('usageCounts', () => {
  it('copies the seven counts and drops every other field', () => {
    const counts = {
      promptTokens: 100,
      cachedPromptTokens: 64,
      completionTokens: 9,
      transferredPromptTokens: 32,
      transferredBlocks: 2,
      transferredBytes: 4096,
      kvRecomputed: true,
    };
    const engineUsage = { ...counts, preemptions: 3, $typeName: 'tandem.v1.Usage' };
    expect(usageCounts(engineUsage)).toStrictEqual(counts);
  });
});
