import { describe, expect, it } from 'vitest';
import { engineProfile, linkProfile, type LinkProfile } from '../../common/profiles/index.ts';
import {
  createRooflinePerf,
  decodeOperatingPoint,
  fitToBudget,
  prefillOperatingPoint,
  prefillService,
  recommendThreshold,
  sizePools,
  splitAtThreshold,
  waitQuantileSeconds,
  type PerfModel,
  type PoolSpec,
  type SizingInput,
} from './index.ts';

/** Every prompt `tokens` long (no histogram): a point mass. */
const constantPrompts = (tokens: number) => ({ buckets: [{ lower: tokens, upper: tokens, share: 1 }] });

/**
 * A replica with round numbers, so every case below can be worked by hand:
 * prefill 10,000 tokens/s (0.1 ms per uncached token), decode step 10 ms + 0.1 ms per sequence,
 * a mixed pass as slow as the slower of its decode and prefill parts, 1,000,000 KV tokens,
 * 100,000 KV bytes per token.
 */
function toyPerf(speed = 1, tp = 1): PerfModel {
  const prefill = (n: number) => (0.0001 * n) / speed;
  const decode = (b: number) => (0.01 + 0.0001 * b) / speed;
  return {
    label: `toy x${speed}`,
    gpusPerReplica: tp,
    kvCapacityTokens: 1_000_000,
    kvBytesPerToken: 100_000,
    prefillSeconds: (n) => prefill(n),
    decodeStepSeconds: (b) => decode(b),
    mixedStepSeconds: (b, _context, x) => Math.max(decode(b), prefill(x)),
  };
}

/** 1 GB/s, no setup, full efficiency: transfer(x) = x * 1e5 / 1e9 = 0.1 ms per token. */
const toyLink: LinkProfile = { name: 'toy', bandwidth: 1e9, efficiency: 1, setupSeconds: 0 };

const pool = (name: string, role: 'prefill' | 'decode', perf: PerfModel, extra: Partial<PoolSpec> = {}): PoolSpec => ({
  name,
  role,
  gpu: 'toy',
  model: 'toy',
  tp: perf.gpusPerReplica,
  minReplicas: 1,
  maxReplicas: 100,
  perf,
  ...extra,
});

const base: SizingInput = {
  load: { requestRate: 20, islMean: 1000, oslMean: 1000, prefixHitRate: 0.5 },
  slo: { ttftS: 1, itlS: 0.03 },
  pools: [pool('prefill', 'prefill', toyPerf()), pool('decode', 'decode', toyPerf())],
  link: toyLink,
  handoffOverheadS: 0,
  gpuBudget: 0,
  blockSize: 16,
  maxPrefillUtilization: 0.8,
  maxKvUsage: 0.9,
};

const byName = (sizing: ReturnType<typeof sizePools>, name: string) => sizing.pools.find((p) => p.name === name)!;

describe('sizing against hand-computed cases', () => {
  it("sizes decode by the largest batch meeting the ITL target (Little's law)", () => {
    // ITL 30 ms: 10 ms + 0.1 ms x b <= 30 ms  =>  b <= 200. KV: context = 1000 + 1000/2 = 1500
    // tokens; 0.9 x 1,000,000 / 1500 = 600 sequences fit, so the ITL binds: batch 200, step 30 ms.
    // One replica completes 200 / (1000 tokens x 0.030 s) = 6.667 req/s; 20 req/s needs 3.0 replicas.
    const point = decodeOperatingPoint(toyPerf(), 1000, 1000, 0.03, 0.9);
    expect(point).toMatchObject({ batch: 200, contextTokens: 1500, limitedBy: 'itl' });
    expect(point.stepSeconds).toBeCloseTo(0.03, 9);
    expect(point.requestsPerSecond).toBeCloseTo(6.6667, 3);
    const sizing = sizePools(base);
    expect(byName(sizing, 'decode').demand).toBeCloseTo(3, 6);
    expect(byName(sizing, 'decode').recommended).toBe(3);
  });

  it('caps the decode batch by KV memory when sequences are long', () => {
    // ISL 20,000, OSL 2,000: context 21,000 tokens; 900,000 / 21,000 = 42.86 -> 42 sequences,
    // far below the 200 the ITL allows. Step = 10 + 4.2 = 14.2 ms; rate = 42 / (2000 x 0.0142) = 1.479 req/s.
    const point = decodeOperatingPoint(toyPerf(), 20_000, 2_000, 0.03, 0.9);
    expect(point).toMatchObject({ batch: 42, limitedBy: 'kv-memory' });
    expect(point.requestsPerSecond).toBeCloseTo(42 / (2000 * 0.0142), 6);
  });

  it('sizes prefill from the uncached token rate served within the TTFT target', () => {
    // Effective ISL = 1000 x (1 - 0.5) = 500 tokens: S = 50 ms per prompt, every prompt alike
    // (no histogram: SCV 0, the p90 prompt is the mean one). TTFT budget = 1 s - transfer
    // (500 x 1e5 B / 1e9 B/s = 50 ms) - first decode step (30 ms) = 0.92 s. At the 0.8 cap the
    // p90 wait is 0.05 / (2 x 0.2) x ln(0.8 / 0.1) = 0.26 s, within 0.92 - 0.05: 0.8 / 0.05 =
    // 16 req/s (8,000 tok/s) per replica. 20 req/s -> 1.25 replicas -> 2.
    const point = prefillOperatingPoint(prefillService(toyPerf(), constantPrompts(1000), 0.5, 0.9), 0.92, 0.8, 0.9);
    expect(point.serviceSeconds).toBeCloseTo(0.05, 9);
    expect(point.scv).toBeCloseTo(0, 9);
    expect(point.utilization).toBe(0.8);
    expect(point.waitSeconds).toBeCloseTo(0.125 * Math.log(8), 9);
    expect(point.tokensPerSecond).toBeCloseTo(8000, 6);
    const sizing = sizePools(base);
    expect(byName(sizing, 'prefill').demand).toBeCloseTo(1.25, 6);
    expect(byName(sizing, 'prefill').recommended).toBe(2);
  });

  it('lowers the planned utilisation until the TTFT quantile fits a tight budget', () => {
    // Deliberately changed with the quantile sizing: the mean-TTFT (M/D/1) rule allowed 50% here.
    // S = 0.5 s, budget 0.75 s: the p90 wait may be 0.25 s: 0.5 / (2 (1 - rho)) x ln(10 rho) <= 0.25,
    // i.e. ln(10 rho) <= 1 - rho: rho = 0.2185 (ln 2.185 = 0.7816 = 1 - 0.2185).
    const tight = prefillOperatingPoint(prefillService(toyPerf(), constantPrompts(5000), 0, 0.9), 0.75, 0.9, 0.9);
    expect(tight.target).toBe('quantile');
    expect(tight.utilization).toBeCloseTo(0.2185, 3);
    expect(tight.waitSeconds + tight.tailServiceSeconds).toBeCloseTo(0.75, 6);
    // Budget below one prefill: the target is out of reach; sized for throughput at 50%.
    const unreachable = prefillOperatingPoint(prefillService(toyPerf(), constantPrompts(5000), 0, 0.9), 0.4, 0.9, 0.9);
    expect(unreachable.target).toBe('none');
    expect(unreachable.utilization).toBe(0.5);
  });

  it('computes the M/G/1 wait quantile exactly for exponential service (M/M/1)', () => {
    // M/M/1, mu = 1/s, lambda = 0.5/s: P(W > t) = 0.5 exp(-0.5 t), so the p90 wait is 2 ln 5 s.
    expect(waitQuantileSeconds(0.5, 1, 1, 0.9)).toBeCloseTo(2 * Math.log(5), 9);
    // Below rho = 1 - q, at least q of the requests do not wait at all.
    expect(waitQuantileSeconds(0.05, 1, 1, 0.9)).toBe(0);
    // More variable service waits longer at the same utilisation.
    expect(waitQuantileSeconds(0.7, 1, 3, 0.9)).toBeGreaterThan(waitQuantileSeconds(0.7, 1, 0, 0.9));
  });

  it('plans the mean TTFT when the long prompts alone miss the target', () => {
    // Half the prompts 1,000 tokens (0.1 s), half 9,000 (0.9 s): mean S = 0.5 s; the p90 prompt
    // is 9,000 tokens, over the 0.8 s budget, so the mean TTFT is planned: Pollaczek-Khinchine
    // with E[S^2] = (0.01 + 0.81) / 2 = 0.41, SCV = 0.41 / 0.25 - 1 = 0.64; mean wait
    // rho x 0.5 x 1.64 / (2 (1 - rho)) <= 0.3  =>  rho = 0.6 / 1.42 = 0.4225.
    const mix = {
      buckets: [
        { lower: 1000, upper: 1000, share: 0.5 },
        { lower: 9000, upper: 9000, share: 0.5 },
      ],
    };
    const point = prefillOperatingPoint(prefillService(toyPerf(), mix, 0, 0.9), 0.8, 0.9, 0.9);
    expect(point.scv).toBeCloseTo(0.64, 9);
    expect(point.target).toBe('mean');
    expect(point.utilization).toBeCloseTo(0.6 / 1.42, 6);
  });

  it('puts the threshold where local prefill interference overtakes the transfer', () => {
    // Batch 200 steps in 30 ms. Prefilling x tokens in that pass costs max(30 ms, 0.1 ms x x), so
    // nothing until x = 300, then 200 x (0.1 ms x x - 30 ms) sequence-seconds. Transfer = 0.1 ms x x.
    // At x = 288: interference 0 < 28.8 ms. At x = 304: 200 x 0.4 ms = 80 ms > 30.4 ms: remote wins.
    // Threshold = the last block multiple where local still wins = 288.
    const threshold = recommendThreshold(toyPerf(), toyLink, 0, 200, 1500, 0, 16);
    expect(threshold.tokens).toBe(288);
    // A fixed handoff cost of 100 ms moves the crossing: 200 x (1e-4 x - 0.03) > 0.1 + 1e-4 x
    // => x > 6.1 / 0.0199 = 306.5: first multiple 320, threshold 304.
    expect(recommendThreshold(toyPerf(), toyLink, 0.1, 200, 1500, 0, 16).tokens).toBe(304);
    // disaggregation.stall_weight 0.01 prices the stall at a hundredth: 2 x (1e-4 x - 0.03) > 1e-4 x
    // => x > 600: at 592 local still wins (58.4 ms < 59.2 ms), at 608 remote (61.6 > 60.8): threshold 592.
    expect(recommendThreshold(toyPerf(), toyLink, 0, 200, 1500, 0, 16, 0.01).tokens).toBe(592);
  });

  it('splits requests at the threshold using the prompt-length histogram', () => {
    // Histogram: 50 prompts <= 100 tokens, 30 in (100, 1000], 20 in (1000, 4000]. Hit rate 0.5, threshold
    // 250 uncached tokens: the cut is at isl = 250 / 0.5 = 500. Below it: 50 + 30 x (400 / 900) = 63.33.
    const split = splitAtThreshold(900, 0.5, 250, { bounds: [100, 1000, 4000], counts: [50, 80, 100] });
    expect(split.remoteShare).toBeCloseTo(1 - 63.333 / 100, 3);
    // Local mean: (50 x 50 + 13.33 x 300) / 63.33 = 102.6 tokens; remote mean keeps the overall 900.
    expect(split.localIslMean).toBeCloseTo((50 * 50 + ((30 * 4) / 9) * 300) / (50 + (30 * 4) / 9), 3);
    expect(split.remoteShare * split.remoteIslMean + (1 - split.remoteShare) * split.localIslMean).toBeCloseTo(900, 6);
  });

  it('serves short prompts on the decode pool and leaves the prefill pool at its minimum', () => {
    // ISL 200, no hits: 200 < 288 tokens, so every request prefills locally; prefill demand is 0.
    const sizing = sizePools({ ...base, load: { requestRate: 20, islMean: 200, oslMean: 1000, prefixHitRate: 0 } });
    expect(sizing.split.remoteShare).toBe(0);
    expect(byName(sizing, 'prefill').demand).toBe(0);
    expect(byName(sizing, 'prefill').recommended).toBe(1);
  });

  it('fills the pools of one role most-efficient-first, each priced by its own profile', () => {
    // Two decode kinds: fast (step 10 ms + 0.1 ms/seq) capped at 2 replicas, and one twice as slow.
    // Fast: 6.667 req/s per replica (above). Slow: step = 2 x (10 + 0.1 b) ms <= 30 ms => b = 50,
    // 50 / (1000 x 0.03) = 1.667 req/s. 20 req/s: fast takes 2 x 6.667 = 13.33, slow gets 6.667 -> 4.0 replicas.
    const pools = [
      pool('prefill', 'prefill', toyPerf()),
      pool('decode-slow', 'decode', toyPerf(0.5)),
      pool('decode-fast', 'decode', toyPerf(), { maxReplicas: 2 }),
    ];
    const sizing = sizePools({ ...base, pools });
    expect(byName(sizing, 'decode-fast').recommended).toBe(2);
    expect(byName(sizing, 'decode-slow').demand).toBeCloseTo(4, 6);
    expect(byName(sizing, 'decode-slow').recommended).toBe(4);
  });

  it('shares a GPU budget between the pools, shrinking them together', () => {
    // Asked: prefill 2 (demand 1.25) + decode 3 (demand 3.0) = 5 GPUs; budget 4. Minimums hold 2;
    // the 3 above shrink by (4 - 2) / 3: prefill 1 + floor(1 x 0.67) = 1, decode 1 + floor(2 x 0.67) = 2.
    // One GPU left goes to the least-covered pool: prefill 1 / 1.25 = 0.8, decode 2 / 3 = 0.67 -> decode 3.
    const sizing = sizePools({ ...base, gpuBudget: 4 });
    expect(byName(sizing, 'prefill').recommended).toBe(1);
    expect(byName(sizing, 'decode').recommended).toBe(3);
    expect(sizing.reasons.some((reason) => reason.startsWith('GPU budget 4'))).toBe(true);
    // Minimums above the budget win, with a reason.
    const tight = fitToBudget([{ name: 'a', tp: 2, minReplicas: 2, replicas: 4, demand: 4 }], 3);
    expect(tight.replicas).toEqual([2]);
    expect(tight.reason).toContain('minimums alone hold 4 GPUs');
  });

  it('prices the default pools with the same roofline the simulated engine uses', () => {
    // Qwen3-8B on one H100: KV = (80e9 x 0.9 - 2e9 - 8.2e9 x 2 B) / 147,456 B per token = 363,498 tokens.
    // ISL 8000, OSL 200: context 8100; 0.9 x 363,498 / 8100 = 40.4 -> batch 40 (KV-bound).
    // Step: memory-bound, (16.4e9 + 147,456 x (40 x 8100 + 40)) B / (3.35e12 x 0.8) B/s + 0.5 ms = 24.45 ms.
    // Rate: 40 / (200 x 0.02445) = 8.18 req/s per replica.
    const perf = createRooflinePerf(engineProfile('h100-sxm', 'qwen3-8b'));
    expect(perf.kvCapacityTokens).toBe(Math.floor((80e9 * 0.9 - 2e9 - 8.2e9 * 2) / 147_456));
    const point = decodeOperatingPoint(perf, 8000, 200, 0.05, 0.9);
    expect(point.batch).toBe(40);
    const step = (16.4e9 + 147_456 * (40 * 8100 + 40)) / (3.35e12 * 0.8) + 0.0005;
    expect(point.stepSeconds).toBeCloseTo(step, 9);
    expect(point.requestsPerSecond).toBeCloseTo(40 / (200 * step), 9);
    const sizing = sizePools({
      ...base,
      slo: { ttftS: 1, itlS: 0.05 },
      link: linkProfile('ib-400g'),
      pools: [pool('p', 'prefill', perf), pool('d', 'decode', perf)],
      load: { requestRate: 10, islMean: 8000, oslMean: 200, prefixHitRate: 0 },
    });
    expect(byName(sizing, 'd').demand).toBeCloseTo(10 / (40 / (200 * step)), 6);
  });
});
