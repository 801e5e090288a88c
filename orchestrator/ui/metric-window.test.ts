import { describe, expect, it } from 'vitest';
import {
  createMetricWindow,
  quantile,
  trafficBetween,
  type CumulativeSample,
  type Histogram,
} from './metric-window.ts';

const BOUNDS = [0.01, 0.1, 1, Infinity];

function sampleAt(atMs: number, fields: Partial<CumulativeSample> = {}): CumulativeSample {
  const empty: Histogram = { bounds: BOUNDS, counts: [0, 0, 0, 0] };
  return {
    atMs,
    requestsByMode: {},
    requestsByOutcome: {},
    promptTokens: 0,
    cachedPromptTokens: 0,
    generationTokens: 0,
    ttft: empty,
    itl: empty,
    queueDepth: 0,
    ...fields,
  };
}

describe('histogram quantiles', () => {
  it('interpolates inside the bucket holding the rank, as Prometheus does', () => {
    // 10 observations: 2 below 10 ms, 6 in (10 ms, 100 ms], 2 in (100 ms, 1 s].
    const histogram = { bounds: BOUNDS, counts: [2, 8, 10, 10] };
    expect(quantile(0.5, histogram)).toBeCloseTo(0.01 + 0.09 * (3 / 6), 10);
    expect(quantile(0.1, histogram)).toBeCloseTo(0.005, 10);
    expect(quantile(0.9, histogram)).toBeCloseTo(0.1 + 0.9 * (1 / 2), 10);
  });

  it('answers the highest finite bound for ranks in the +Inf bucket, and null when empty', () => {
    expect(quantile(0.99, { bounds: BOUNDS, counts: [0, 0, 1, 5] })).toBe(1);
    expect(quantile(0.5, { bounds: BOUNDS, counts: [0, 0, 0, 0] })).toBeNull();
  });
});

describe('traffic between two samples', () => {
  it('turns counter differences into rates, a hit rate and the disaggregated share', () => {
    const from = sampleAt(0, {
      requestsByOutcome: { success: 10 },
      requestsByMode: { aggregated: 10 },
      promptTokens: 1000,
      cachedPromptTokens: 100,
      generationTokens: 50,
    });
    const to = sampleAt(10_000, {
      requestsByOutcome: { success: 28, error: 1, rejected: 1 },
      requestsByMode: { aggregated: 25, disaggregated: 4, none: 1 },
      promptTokens: 3000,
      cachedPromptTokens: 1600,
      generationTokens: 1050,
      ttft: { bounds: BOUNDS, counts: [0, 20, 20, 20] },
      queueDepth: 3,
    });
    const traffic = trafficBetween(from, to);
    expect(traffic.windowS).toBe(10);
    expect(traffic.requestRate).toBeCloseTo(2);
    expect(traffic.errorRate).toBeCloseTo(0.2);
    expect(traffic.outputTokensPerS).toBeCloseTo(100);
    expect(traffic.hitRate).toBeCloseTo(0.75);
    // 19 routed requests finished in the window, 4 of them disaggregated; refused ones (none) do not count.
    expect(traffic.disaggregatedShare).toBeCloseTo(4 / 19);
    expect(traffic.ttft?.p50).toBeCloseTo(0.055);
    expect(traffic.itl).toBeNull();
    expect(traffic.queueDepth).toBe(3);
  });

  it('has no hit rate or share when nothing finished', () => {
    const traffic = trafficBetween(sampleAt(0), sampleAt(1000));
    expect(traffic.requestRate).toBe(0);
    expect(traffic.hitRate).toBeNull();
    expect(traffic.disaggregatedShare).toBeNull();
  });
});

describe('the metric window', () => {
  it('measures from the last sample at or before the window start, so older traffic drops out', () => {
    const window = createMetricWindow(10_000);
    expect(window.figures().requestRate).toBeNull();
    window.push(sampleAt(0, { requestsByOutcome: { success: 0 } }));
    window.push(sampleAt(5_000, { requestsByOutcome: { success: 100 } }));
    window.push(sampleAt(10_000, { requestsByOutcome: { success: 100 } }));
    expect(window.figures().requestRate).toBeCloseTo(10);
    window.push(sampleAt(15_000, { requestsByOutcome: { success: 100 } }));
    // The burst between 0 and 5 s is now older than the window.
    expect(window.figures().windowS).toBe(10);
    expect(window.figures().requestRate).toBe(0);
  });
});
