import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config/index.ts';
import type { LinkProfile } from '../../common/profiles/index.ts';
import { plannerOptionsFromConfig } from '../from-config.ts';
import type { Distribution } from '../types.ts';
import {
  erlangC,
  prefillPoolSize,
  prefillService,
  promptMixMoments,
  promptMixQuantile,
  promptsAbove,
  sizePools,
  waitQuantileSeconds,
  type PerfModel,
  type SizingInput,
} from './index.ts';

/** Prefill 0.1 ms per uncached token, decode step 10 ms + 0.1 ms per sequence (as in size-pools.test.ts). */
const toyPerf: PerfModel = {
  label: 'toy',
  gpusPerReplica: 1,
  kvCapacityTokens: 1_000_000,
  kvBytesPerToken: 100_000,
  prefillSeconds: (n) => 0.0001 * n,
  decodeStepSeconds: (b) => 0.01 + 0.0001 * b,
  mixedStepSeconds: (b, _context, x) => Math.max(0.01 + 0.0001 * b, 0.0001 * x),
};
const toyLink: LinkProfile = { name: 'toy', bandwidth: 1e9, efficiency: 1, setupSeconds: 0 };
const spec = (name: string, role: 'prefill' | 'decode') => ({
  name,
  role,
  gpu: 'toy',
  model: 'toy',
  tp: 1,
  minReplicas: 1,
  maxReplicas: 100,
  perf: toyPerf,
});

/** 100 prompts of 3,000 tokens on average: all near 3,000, or half near 1,000 and half near 5,000. */
const constantIsl: Distribution = { bounds: [2990, 3010, Infinity], counts: [0, 100, 100] };
const bimodalIsl: Distribution = { bounds: [990, 1010, 4990, 5010, Infinity], counts: [0, 50, 50, 100, 100] };

const input = (isl: Distribution, ttftQuantile?: number): SizingInput => ({
  load: { requestRate: 10, islMean: 3000, oslMean: 1000, prefixHitRate: 0, isl },
  slo: { ttftS: 1, itlS: 0.03 },
  ttftQuantile,
  pools: [spec('prefill', 'prefill'), spec('decode', 'decode')],
  link: toyLink,
  handoffOverheadS: 0,
  gpuBudget: 0,
  blockSize: 16,
  maxPrefillUtilization: 0.9,
  maxKvUsage: 0.9,
});
const prefillOf = (sizing: ReturnType<typeof sizePools>) => sizing.pools.find((pool) => pool.role === 'prefill')!;

describe('the prompt lengths of the disaggregated requests', () => {
  // 50 prompts <= 100 tokens, 30 in (100, 1000], 20 in (1000, 4000], 10 beyond 4000.
  const isl: Distribution = { bounds: [100, 1000, 4000, Infinity], counts: [50, 80, 100, 110] };

  it('keeps the histogram above the cut, trimming the bucket that holds it', () => {
    // Cut at 500: (500, 1000] keeps 30 x 500 / 900 = 16.67 prompts, (1000, 4000] 20, +Inf 10 at 4000.
    const mix = promptsAbove(500, isl, 0);
    const total = 30 * (5 / 9) + 20 + 10;
    expect(mix.buckets.map((b) => [b.lower, b.upper])).toEqual([
      [500, 1000],
      [1000, 4000],
      [4000, 4000],
    ]);
    expect(mix.buckets.map((b) => b.share)).toEqual(
      [(30 * (5 / 9)) / total, 20 / total, 10 / total].map((v) => expect.closeTo(v, 9)),
    );
  });

  it('reads quantiles and moments of a function of the length from the mix', () => {
    const mix = {
      buckets: [
        { lower: 0, upper: 1000, share: 0.5 },
        { lower: 2000, upper: 2000, share: 0.5 },
      ],
    };
    expect(promptMixQuantile(mix, 0.25)).toBeCloseTo(500, 9);
    expect(promptMixQuantile(mix, 0.9)).toBe(2000);
    // Linear f: the midpoint rule is exact, E[x] = 0.5 x 500 + 0.5 x 2000 = 1250.
    expect(promptMixMoments(mix, (x) => x).mean).toBeCloseTo(1250, 9);
    // E[x^2] over uniform(0, 1000) is 333,333 (midpoint rule with 8 points: 1000^2 x (1/3 - 1/(12 x 64))).
    expect(promptMixMoments(mix, (x) => x).secondMoment).toBeCloseTo(0.5 * 1e6 * (1 / 3 - 1 / 768) + 0.5 * 4e6, 6);
  });

  it('falls back to a point at the mean without a histogram', () => {
    expect(promptsAbove(500, undefined, 3000).buckets).toEqual([{ lower: 3000, upper: 3000, share: 1 }]);
  });
});

describe('prefill sized for a TTFT quantile', () => {
  it('gives bimodal prompt lengths more prefill replicas than constant ones of the same mean', () => {
    const constant = sizePools(input(constantIsl));
    const bimodal = sizePools(input(bimodalIsl));
    expect(constant.split.remoteShare).toBe(1);
    expect(bimodal.split.remoteShare).toBe(1);
    // Same mean work per request; only the spread differs.
    expect(bimodal.split.remoteIslMean).toBeCloseTo(constant.split.remoteIslMean, 6);
    expect(prefillOf(bimodal).demand).toBeGreaterThan(prefillOf(constant).demand * 1.15);
    expect(prefillOf(bimodal).recommended).toBeGreaterThan(prefillOf(constant).recommended);
  });

  it('needs at least as many prefill replicas for a higher quantile', () => {
    const demands = [0.5, 0.8, 0.9, 0.95, 0.99].map((q) => prefillOf(sizePools(input(bimodalIsl, q))).demand);
    for (let i = 1; i < demands.length; i++) expect(demands[i]!).toBeGreaterThanOrEqual(demands[i - 1]!);
    expect(demands.at(-1)!).toBeGreaterThan(demands[0]!);
  });

  it('lets a shared queue over more replicas run each one harder (M/G/c)', () => {
    // M/M/2 at rho = 0.5: C = 2 rho^2 / (1 + rho) = 1/3; one server: C = rho.
    expect(erlangC(2, 0.5)).toBeCloseTo(1 / 3, 12);
    expect(erlangC(1, 0.7)).toBeCloseTo(0.7, 12);
    expect(waitQuantileSeconds(0.6, 0.3, 0.5, 0.9, 4)).toBeLessThan(waitQuantileSeconds(0.6, 0.3, 0.5, 0.9, 1));
    // Every prompt 3,000 tokens (0.3 s) with 0.67 s of budget: capacity per replica grows with the pool.
    const service = prefillService(toyPerf, { buckets: [{ lower: 3000, upper: 3000, share: 1 }] }, 0, 0.9);
    const sizes = [0.5, 1, 2, 4, 8, 16].map((rate) => prefillPoolSize(service, 0.67, 0.9, 0.9, rate));
    for (let i = 1; i < sizes.length; i++) {
      expect(sizes[i]!.demand).toBeGreaterThan(sizes[i - 1]!.demand);
      expect(sizes[i]!.requestsPerReplica).toBeGreaterThanOrEqual(sizes[i - 1]!.requestsPerReplica - 1e-9);
    }
    expect(sizes.at(-1)!.requestsPerReplica).toBeGreaterThan(sizes[0]!.requestsPerReplica * 1.5);
    // ceil(demand) is the smallest pool whose quantile fits: its point says so, one fewer would not.
    const at8 = sizes[4]!;
    const c = Math.ceil(at8.demand);
    expect(at8.point.servers).toBe(c);
    expect(at8.point.waitSeconds + at8.point.tailServiceSeconds).toBeLessThanOrEqual(0.67 + 1e-9);
    expect(waitQuantileSeconds((8 * 0.3) / (c - 1), 0.3, service.scv, 0.9, c - 1) + 0.3).toBeGreaterThan(0.67);
  });

  it('reads the quantile from planner.slo.ttft_quantile (default 0.9)', () => {
    const defaults = loadConfig({ env: {} });
    const tuned = loadConfig({ env: { TANDEM_PLANNER__SLO__TTFT_QUANTILE: '0.97' } });
    if (!defaults.ok || !tuned.ok) throw new Error('config did not load');
    const options = (config: typeof defaults.value) => {
      const built = plannerOptionsFromConfig(config);
      if (!built.ok) throw new Error(built.error.message);
      return built.value;
    };
    expect(options(defaults.value).ttftQuantile).toBe(0.9);
    expect(options(tuned.value).ttftQuantile).toBe(0.97);
    expect(loadConfig({ env: { TANDEM_PLANNER__SLO__TTFT_QUANTILE: '1' } }).ok).toBe(false);
  });
});
