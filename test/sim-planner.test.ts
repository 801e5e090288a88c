import { describe, expect, it } from 'vitest';
import { DEFAULT_LATENCIES } from '../bench/sim/options.ts';
import { simulateSmall } from './sim-harness.ts';

const latency = { ...DEFAULT_LATENCIES, startupS: 5 };
const planned = (planner: Record<string, unknown> = {}) => ({
  disaggregation: { mode: 'auto' as const },
  planner: { interval_s: 10, ...planner },
});

describe('the planner in the simulated loop', () => {
  it('adds workers when the load outgrows the pools, and they serve only after the start-up delay', async () => {
    // Long prompts at 6 req/s on one prefill and one decode worker: far more prefill than one worker does.
    const result = await simulateSmall({
      workload: 'mixed-isl',
      params: { long_share: 0.5 },
      qps: 6,
      durationS: 60,
      workers: 6,
      prefillWorkers: 1,
      decodeWorkers: 1,
      planner: true,
      latency,
      config: planned(),
    });
    const series = result.replicas!;
    expect(series[0]).toEqual({ t_s: 0, prefill: 1, decode: 1 });
    const grown = series.find((p) => p.prefill > 1 || p.decode > 1)!;
    expect(grown).toBeDefined();
    // The first decision comes at the first interval's end (10 s), the worker 5 s after.
    expect(grown.t_s).toBeGreaterThanOrEqual(15);
    expect(Math.max(...series.map((p) => p.prefill + p.decode))).toBeLessThanOrEqual(6);
    // Paid for from creation: more than the two initial workers, less than six all along.
    const seconds = result.stats.simulatedSeconds;
    expect(result.stats.gpuHours * 3600).toBeGreaterThan(2 * seconds);
    expect(result.stats.gpuHours * 3600).toBeLessThan(6 * seconds);
    expect(result.setup.threshold_tokens).toBe('planner');
  });

  it('drains workers it no longer needs, which leave once idle without leaking a booking or a hold', async () => {
    const result = await simulateSmall({
      workload: 'mixed-isl',
      qps: 1,
      durationS: 80,
      workers: 8,
      prefillWorkers: 3,
      planner: true,
      latency,
      config: planned({ stability: { scale_down_window_s: 0 } }),
    });
    const series = result.replicas!;
    expect(series[0]).toEqual({ t_s: 0, prefill: 3, decode: 5 });
    const last = series.at(-1)!;
    expect(last.prefill + last.decode).toBeLessThan(8);
    expect(result.summary.requests.failed).toBe(0);
    expect(result.stats.heldHandoffsAtEnd).toBe(0);
    for (const load of result.finalLoads)
      expect(load).toMatchObject({ inflightRequests: 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 });
    expect(result.stats.gpuHours * 3600).toBeLessThan(8 * result.stats.simulatedSeconds);
  });
});
