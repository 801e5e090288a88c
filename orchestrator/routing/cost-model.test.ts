import { describe, expect, it } from 'vitest';
import { engineProfile, prefillSeconds } from '../../common/profiles/index.ts';
import { estimateCost, prefillSecondsPerToken } from './cost-model.ts';

const h100 = engineProfile('h100-sxm', 'qwen3-8b');
const l40s = engineProfile('l40s', 'qwen3-8b');
const base = {
  promptTokens: 8192,
  cachedTokens: 0,
  queuedPrefillTokens: 0,
  inflightRequests: 0,
  activeDecodeBlocks: 0,
  blockSize: 16,
  horizonTokens: 128,
};
const weights = { prefillWeight: 1, decodeWeight: 1 };

describe('kv cost model (seconds)', () => {
  it("prices prefill from the worker's profile: a cached prefix and a faster GPU both cost less", () => {
    const cold = estimateCost(h100, base, weights);
    const warm = estimateCost(h100, { ...base, cachedTokens: 6144 }, weights);
    expect(cold.prefillSeconds).toBeCloseTo(prefillSeconds(h100, 8192), 12);
    expect(warm.prefillSeconds).toBeLessThan(cold.prefillSeconds / 3);
    expect(estimateCost(l40s, base, weights).prefillSeconds).toBeGreaterThan(2 * cold.prefillSeconds);
  });

  it('charges queued prefill tokens at the per-token rate and decode by the batch the request joins', () => {
    const queued = estimateCost(h100, { ...base, queuedPrefillTokens: 20_000 }, weights);
    expect(queued.queueSeconds).toBeCloseTo(20_000 * prefillSecondsPerToken(h100), 12);
    const busy = estimateCost(h100, { ...base, inflightRequests: 30, activeDecodeBlocks: 30 * 512 }, weights);
    expect(busy.decodeSeconds).toBeGreaterThan(estimateCost(h100, base, weights).decodeSeconds * 1.5);
  });

  it('weighs the terms and needs no decode term without a horizon', () => {
    const terms = estimateCost(h100, { ...base, queuedPrefillTokens: 1000 }, { prefillWeight: 2, decodeWeight: 0.5 });
    expect(terms.totalSeconds).toBeCloseTo(
      2 * (terms.queueSeconds + terms.prefillSeconds) + 0.5 * terms.decodeSeconds,
      12,
    );
    expect(estimateCost(h100, { ...base, horizonTokens: 0 }, weights).decodeSeconds).toBe(0);
  });
});
