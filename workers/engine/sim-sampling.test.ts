import { describe, expect, it } from 'vitest';
import { createVirtualClock, type VirtualClock } from '../../common/clock.ts';
import type { SamplingParams, TokenChunk } from './engine-api.ts';
import { createSimEngine, type SimEngine } from './sim-engine.ts';
import { createTokenSampler, seedWordFor, SHAPED_CANDIDATES } from './token-sampler.ts';

/**
 * The simulated engine's sampling parameters, each shown to change what it emits: a plain
 * request keeps the seeded stream it always had; top-k, min-p, penalties and logprobs draw from
 * the synthetic distribution (token-sampler.ts) and do what they do to a real model's.
 */

const PROMPT = Array.from({ length: 64 }, (_, i) => 1000 + ((i * 7919) % 5000));
let serial = 0;

function run(engine: SimEngine, clock: VirtualClock, sampling: SamplingParams, prompt = PROMPT): TokenChunk[] {
  const chunks: TokenChunk[] = [];
  engine.generate(
    { requestId: `s${++serial}`, promptTokenIds: prompt, sampling },
    { onChunk: (chunk) => chunks.push(chunk) },
  );
  clock.runTimers();
  return chunks;
}

function setup() {
  const clock = createVirtualClock();
  return { clock, engine: createSimEngine({ gpu: 'h100-sxm', model: 'qwen3-8b' }, { clock }) };
}

const tokens = (chunks: TokenChunk[]) => chunks.flatMap((c) => c.tokenIds);
const base: SamplingParams = { maxTokens: 200, temperature: 1, seed: 42, ignoreEos: true };

describe('simulated engine sampling', () => {
  it('keeps the plain seeded stream for requests that shape nothing', () => {
    const { clock, engine } = setup();
    const out = tokens(run(engine, clock, base));
    const sampler = createTokenSampler({ firstSpecialTokenId: 151643, eosTokenId: 151645, eosProbability: 0 });
    const seedWord = seedWordFor('unused', PROMPT, 42, 1);
    expect(out).toEqual(out.map((_, i) => sampler.sample(seedWord, i, 0, true)));
    expect(run(engine, clock, base)[0]!.logprobs).toBeUndefined();
  });

  it('returns logprobs for every token: the sampled one and the requested alternatives, best first', () => {
    const { clock, engine } = setup();
    const chunks = run(engine, clock, { ...base, logprobs: 3 });
    for (const chunk of chunks) {
      expect(chunk.logprobs).toHaveLength(chunk.tokenIds.length);
      chunk.logprobs!.forEach((lp, i) => {
        expect(lp.top).toHaveLength(3);
        expect(lp.top[0]!.logprob).toBeGreaterThanOrEqual(lp.top[1]!.logprob);
        expect(lp.top[1]!.logprob).toBeGreaterThanOrEqual(lp.top[2]!.logprob);
        expect(lp.logprob).toBeLessThan(0);
        expect(lp.logprob).toBeLessThanOrEqual(lp.top[0]!.logprob);
        const listed = lp.top.find((t) => t.tokenId === chunk.tokenIds[i]);
        if (listed) expect(listed.logprob).toBe(lp.logprob);
      });
    }
    // Temperature 1 draws below the best token some of the time.
    const ranks = chunks.flatMap((c) => c.logprobs!.map((lp) => lp.logprob === lp.top[0]!.logprob));
    expect(ranks.filter((best) => !best).length).toBeGreaterThan(50);
  });

  it('draws only the best token with top_k 1 or min_p 1, as greedy does, and more widely without', () => {
    const { clock, engine } = setup();
    const greedy = tokens(run(engine, clock, { ...base, temperature: 0, logprobs: 0 }));
    expect(tokens(run(engine, clock, { ...base, topK: 1 }))).toEqual(greedy);
    expect(tokens(run(engine, clock, { ...base, minP: 1 }))).toEqual(greedy);
    const wide = tokens(run(engine, clock, { ...base, topK: SHAPED_CANDIDATES }));
    expect(wide.filter((t, i) => t !== greedy[i]).length).toBeGreaterThan(50);
    // top_k 5 keeps every token among the five best of its position.
    const five = run(engine, clock, { ...base, topK: 5, logprobs: 5 });
    for (const chunk of five)
      chunk.tokenIds.forEach((t, i) => expect(chunk.logprobs![i]!.top.map((x) => x.tokenId)).toContain(t));
  });

  it('repeats the context less under a repetition or frequency penalty and more under a negative presence penalty', () => {
    const { clock, engine } = setup();
    const prompt = new Set(PROMPT);
    const fromPrompt = (sampling: SamplingParams) =>
      tokens(run(engine, clock, sampling)).filter((t) => prompt.has(t)).length;
    const repeats = (sampling: SamplingParams) => {
      const out = tokens(run(engine, clock, sampling));
      return out.length - new Set(out).size;
    };
    const plain = fromPrompt({ ...base, topK: SHAPED_CANDIDATES });
    expect(plain).toBeGreaterThan(20);
    expect(fromPrompt({ ...base, repetitionPenalty: 3 })).toBeLessThan(plain / 2);
    const plainRepeats = repeats({ ...base, topK: SHAPED_CANDIDATES });
    expect(repeats({ ...base, presencePenalty: -2 })).toBeGreaterThan(plainRepeats * 2);
    expect(repeats({ ...base, frequencyPenalty: 2 })).toBeLessThan(plainRepeats);
  });

  it('refuses out-of-range values naming the field', () => {
    const { clock, engine } = setup();
    expect(() => run(engine, clock, { ...base, topK: -2 })).toThrow(/top_k/);
    expect(() => run(engine, clock, { ...base, minP: 1.5 })).toThrow(/min_p/);
    expect(() => run(engine, clock, { ...base, presencePenalty: 3 })).toThrow(/presence_penalty/);
    expect(() => run(engine, clock, { ...base, repetitionPenalty: 0 })).toThrow(/repetition_penalty/);
    expect(() => run(engine, clock, { ...base, logprobs: 21 })).toThrow(/logprobs/);
  });
});
