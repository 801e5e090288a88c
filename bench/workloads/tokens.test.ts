import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { createBranchPoint, createTokenHistory, fillTokens, REGULAR_VOCAB } from './tokens.ts';

describe('token draws', () => {
  it('draws regular ids with the log-uniform law, low ids most often', () => {
    const out = new Uint32Array(1_000_000);
    fillTokens(createRng(1), out, 0, out.length);
    const counts = new Map<number, number>();
    let max = 0;
    for (const id of out) {
      counts.set(id, (counts.get(id) ?? 0) + 1);
      max = Math.max(max, id);
    }
    expect(max).toBeLessThan(REGULAR_VOCAB);
    const law = (k: number) => Math.log((k + 2) / (k + 1)) / Math.log(REGULAR_VOCAB + 1);
    for (const k of [0, 1, 2, 10]) expect((counts.get(k) ?? 0) / out.length).toBeCloseTo(law(k), 2);
    const top = out.filter((id) => id >= 75_000).length / out.length;
    expect(top).toBeCloseTo(Math.log((REGULAR_VOCAB + 1) / 75_001) / Math.log(REGULAR_VOCAB + 1), 2);
  });

  it('gives every sibling at a branch point a first token no other sibling has', () => {
    const branch = createBranchPoint();
    const rng = createRng(2);
    const firsts = Array.from({ length: 20_000 }, () => branch.freshFirstToken(rng));
    expect(new Set(firsts).size).toBe(firsts.length);
    // The same ids as plain rejection of repeats over uniform draws (workloads' prompts depend on it).
    const reference = createRng(2);
    const seen = new Set<number>();
    const expected: number[] = [];
    while (expected.length < firsts.length) {
      const id = reference.int(REGULAR_VOCAB);
      if (seen.has(id)) continue;
      seen.add(id);
      expected.push(id);
    }
    expect(firsts).toEqual(expected);
  });

  it('keeps earlier views of a growing history unchanged as it grows past its capacity', () => {
    const history = createTokenHistory(16);
    const rng = createRng(3);
    history.appendDrawn(rng, 10);
    const early = history.view();
    const earlyCopy = Array.from(early);
    for (let i = 0; i < 20; i++) history.appendDrawn(rng, 7);
    expect(history.length).toBe(150);
    expect(Array.from(early)).toEqual(earlyCopy);
    expect(Array.from(history.view().subarray(0, 10))).toEqual(earlyCopy);
  });
});
