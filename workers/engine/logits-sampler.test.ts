import { describe, expect, it } from 'vitest';
import { penaltyHistoryOf, sampleFromLogits, type LogitsSampling } from './logits-sampler.ts';

const OFF: LogitsSampling = {
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  presencePenalty: 0,
  frequencyPenalty: 0,
  repetitionPenalty: 1,
  logprobs: null,
};
const ids = [10, 11, 12, 13];
const logits = [2, 1.5, 1, -1];

/** The tokens drawn for uniforms 0, 0.01, ..., 0.99 (a quantile sweep of the distribution). */
function sweep(
  s: Partial<LogitsSampling>,
  history = null as ReturnType<typeof penaltyHistoryOf> | null,
  l = logits,
): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < 100; i++) {
    const { tokenId } = sampleFromLogits(ids, l, { ...OFF, ...s }, history, i / 100);
    counts.set(tokenId, (counts.get(tokenId) ?? 0) + 1);
  }
  return counts;
}

describe('sampling from logits', () => {
  it('is greedy at temperature 0 and draws from the softmax otherwise', () => {
    expect(sweep({ temperature: 0 })).toEqual(new Map([[10, 100]]));
    const drawn = sweep({});
    // softmax(2, 1.5, 1, -1) = 0.494, 0.300, 0.182, 0.025: uniforms 0-0.49, 0.50-0.79, 0.80-0.97, 0.98-0.99.
    expect([drawn.get(10), drawn.get(11), drawn.get(12), drawn.get(13)]).toEqual([50, 30, 18, 2]);
  });

  it('keeps the k best with top_k, the smallest nucleus with top_p, and those near the best with min_p', () => {
    expect([...sweep({ topK: 2 }).keys()].sort()).toEqual([10, 11]);
    expect([...sweep({ topP: 0.5 }).keys()].sort()).toEqual([10, 11]);
    expect([...sweep({ topP: 0.3 }).keys()].sort()).toEqual([10]);
    // 0.300 / 0.494 = 0.61 and 0.182 / 0.494 = 0.37: min_p 0.5 keeps the first two.
    expect([...sweep({ minP: 0.5 }).keys()].sort()).toEqual([10, 11]);
  });

  it('applies presence, frequency and repetition penalties to tokens already seen', () => {
    const tokens = [12, 99, 10, 10, 11]; // prompt [12, 99], output [10, 10, 11]
    const history = penaltyHistoryOf(tokens, 2);
    // 10 appeared twice in the output: 2 - 2 * 1 = 0 < 1.5, so 11 ... which appeared once: 1.5 - 1 = 0.5 < 1 (12).
    expect(sampleFromLogits(ids, logits, { ...OFF, temperature: 0, frequencyPenalty: 1 }, history, 0).tokenId).toBe(12);
    // Presence counts once: 2 - 1.8 = 0.2 and 1.5 - 1.8 = -0.3, so 12 (1, prompt only) wins.
    expect(sampleFromLogits(ids, logits, { ...OFF, temperature: 0, presencePenalty: 1.8 }, history, 0).tokenId).toBe(
      12,
    );
    // Repetition covers the prompt too: 2/4 = 0.5, 1.5/4, 1/4, and -1 (unseen) stays: 10 still wins at 0.5.
    expect(sampleFromLogits(ids, logits, { ...OFF, temperature: 0, repetitionPenalty: 4 }, history, 0).tokenId).toBe(
      10,
    );
    expect(
      sampleFromLogits(ids, [-1, -1, -1, -2], { ...OFF, temperature: 0, repetitionPenalty: 4 }, history, 0).tokenId,
    ).toBe(13);
    // A negative presence penalty favours the seen ones.
    expect(sweep({ presencePenalty: -2 }, history).get(13) ?? 0).toBe(0);
  });

  it('reports the raw log-softmax of the sampled token and the best alternatives', () => {
    const { tokenId, logprob } = sampleFromLogits(ids, logits, { ...OFF, logprobs: 2, topK: 1 }, null, 0.5);
    expect(tokenId).toBe(10);
    const z = Math.log(logits.reduce((sum, x) => sum + Math.exp(x), 0));
    expect(logprob!.logprob).toBeCloseTo(2 - z, 12);
    expect(logprob!.top).toEqual([
      { tokenId: 10, logprob: expect.closeTo(2 - z, 12) },
      { tokenId: 11, logprob: expect.closeTo(1.5 - z, 12) },
    ]);
    expect(sampleFromLogits(ids, logits, OFF, null, 0.5).logprob).toBeNull();
  });

  it('keeps a sequence history up to date as its tokens grow', () => {
    const tokens = [1, 2];
    expect(penaltyHistoryOf(tokens, 2).outputCounts.size).toBe(0);
    tokens.push(3, 3);
    const history = penaltyHistoryOf(tokens, 2);
    expect(history.outputCounts.get(3)).toBe(2);
    expect(history.prompt.has(1)).toBe(true);
  });
});
