import { describe, expect, it } from 'vitest';
import type { ProbeSample } from '../bench/sim/options.ts';
import type { SimResult } from '../bench/sim/run-sim.ts';
import { comparable, simulateSmall } from './sim-harness.ts';

/** Checks every invariant a finished run must keep, whatever it simulated. */
function expectInvariants(result: SimResult, samples: readonly ProbeSample[]): void {
  const s = result.summary;
  // Requests in = completed + failed; every request admitted was recorded.
  expect(s.requests.sent).toBe(result.stats.requests);
  expect(s.requests.completed + s.requests.failed).toBe(s.requests.sent);
  expect(Object.values(s.requests.failures).reduce((a, b) => a + b, 0)).toBe(s.requests.failed);
  // Loads never went negative while the run was going, and the book is back to zero at the end.
  expect(samples.length).toBeGreaterThan(5);
  for (const sample of samples) {
    expect(sample.inFlight).toBeGreaterThanOrEqual(0);
    for (const load of sample.loads) {
      expect(load.inflightRequests).toBeGreaterThanOrEqual(0);
      expect(load.queuedPrefillTokens).toBeGreaterThanOrEqual(0);
      expect(load.activeDecodeBlocks).toBeGreaterThanOrEqual(0);
    }
  }
  for (const load of result.finalLoads)
    expect(load).toMatchObject({ inflightRequests: 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 });
  expect(result.stats.heldHandoffsAtEnd).toBe(0);
  // No cache can beat computing each distinct prefix once.
  if (s.prefix_cache.hit_rate !== null)
    expect(s.prefix_cache.hit_rate).toBeLessThanOrEqual(s.prefix_cache.upper_bound! + 1e-12);
  expect(s.load_imbalance).not.toBeNull();
}

async function probed(
  overrides: Parameters<typeof simulateSmall>[0],
): Promise<{ result: SimResult; samples: ProbeSample[] }> {
  const samples: ProbeSample[] = [];
  const result = await simulateSmall({ ...overrides, probe: (sample) => samples.push(sample) });
  return { result, samples };
}

/**
 * A small shared-prefix stream: 40 groups x 4 users, 2,300-token prompts, on workers cut to 3,000
 * KV blocks (48k tokens) so that no worker can cache every group's prefix (80k tokens).
 */
const sharedPrefix = {
  workload: 'llmd-shared-prefix',
  params: { groups: 40, users_per_group: 4, system_prompt_tokens: 2000, question_tokens: 300, output_tokens: 100 },
  qps: 10,
  durationS: 30,
};
const smallKv = { num_gpu_blocks: 3000 };

describe('simulated runs', () => {
  it('repeat exactly for one seed and differ for another', async () => {
    const options = { ...sharedPrefix, workers: 3, config: { routing: { policy: 'kv' }, worker: smallKv } };
    const a = await simulateSmall(options);
    const b = await simulateSmall(options);
    expect(comparable(b)).toEqual(comparable(a));
    const other = await simulateSmall({ ...options, seed: '2' });
    expect(other.summary.ttft_ms).not.toEqual(a.summary.ttft_ms);
    expect(other.summary.e2e_ms).not.toEqual(a.summary.e2e_ms);
  });

  it('repeat exactly with disaggregation and the planner in the loop', async () => {
    const options = {
      workload: 'diurnal',
      params: { period_s: 60 },
      qps: 6,
      durationS: 60,
      workers: 4,
      prefillWorkers: 1,
      planner: true,
      latency: { dispatchMs: 1, tokenMs: 1, kvEventMs: 5, statusIntervalMs: 1000, statusMs: 2, startupS: 5 },
      config: { disaggregation: { mode: 'auto' as const }, planner: { interval_s: 10 } },
    };
    const a = await simulateSmall(options);
    expect(comparable(await simulateSmall(options))).toEqual(comparable(a));
    expect(a.stats.disaggregated).toBeGreaterThan(0);
  });

  it('keep the invariants on an aggregated shared-prefix run under the kv policy', async () => {
    const { result, samples } = await probed({
      ...sharedPrefix,
      workers: 3,
      config: { routing: { policy: 'kv' }, worker: smallKv },
    });
    expectInvariants(result, samples);
    expect(result.summary.requests.completed).toBeGreaterThan(200);
    expect(result.summary.prefix_cache.hit_rate!).toBeGreaterThan(0.5);
  });

  it('keep the invariants on a disaggregated run whose long prompts overload the prefill pool', async () => {
    const { result, samples } = await probed({
      workload: 'mixed-isl',
      qps: 12,
      durationS: 30,
      workers: 4,
      prefillWorkers: 1,
      config: { disaggregation: { mode: 'auto', threshold_tokens: 512 } },
    });
    expectInvariants(result, samples);
    expect(result.stats.disaggregated).toBeGreaterThan(10);
    expect(result.stats.disaggregated).toBeLessThan(result.stats.requests);
    expect(result.summary.kv_transfer_bytes!).toBeGreaterThan(0);
  });

  it('keep the invariants when requests time out', async () => {
    // 8k-token prompts at 6 req/s: about twice what one worker prefills, so the queue outgrows the 5 s timeout (a long queue allowed, not the default that refuses at once what would wait past half the TTFT SLO).
    const params = {
      long_share: 1,
      long_tokens_min: 8192,
      long_tokens_max: 8192,
      output_tokens_min: 4,
      output_tokens_max: 8,
    };
    const { result, samples } = await probed({
      workload: 'mixed-isl',
      params,
      qps: 6,
      durationS: 10,
      workers: 1,
      config: { orchestrator: { request_timeout_s: 5, admission: { max_queued: 4096, queue_timeout_s: 30 } } },
    });
    expectInvariants(result, samples);
    expect(result.summary.requests.failures.timeout).toBeGreaterThan(0);
    expect(result.summary.requests.completed).toBeGreaterThan(0);
  });

  it("learn prefixes in approximate mode from the router's own decisions, without events", async () => {
    const precise = await simulateSmall({
      ...sharedPrefix,
      workers: 3,
      config: { routing: { policy: 'kv', index_mode: 'precise' }, worker: smallKv },
    });
    const approximate = await simulateSmall({
      ...sharedPrefix,
      workers: 3,
      config: { routing: { policy: 'kv', index_mode: 'approximate' }, worker: smallKv },
    });
    const roundRobin = await simulateSmall({
      ...sharedPrefix,
      workers: 3,
      config: { routing: { policy: 'round-robin' }, worker: smallKv },
    });
    expect(approximate.summary.prefix_cache.hit_rate!).toBeGreaterThan(roundRobin.summary.prefix_cache.hit_rate! + 0.1);
    expect(precise.summary.prefix_cache.hit_rate!).toBeGreaterThan(roundRobin.summary.prefix_cache.hit_rate! + 0.1);
    expect(approximate.setup.index).toBe('approximate');
  });
});
