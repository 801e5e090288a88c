import { describe, expect, it } from 'vitest';
import { comparable, simOptions, simulateSmall } from './sim-harness.ts';
import { runSimulation } from '../bench/sim/run-sim.ts';

/**
 * Router replicas in the simulator: R routing cores and dispatchers over one fleet, requests
 * spread at random, bookings shared through orchestrator/replica-sync's apply path (or not).
 */
const small = {
  workload: 'llmd-shared-prefix',
  params: { groups: 8, users_per_group: 4, system_prompt_tokens: 2000, question_tokens: 200, output_tokens: 100 },
  qps: 6,
  durationS: 15,
} as const;

describe('simulated router replicas', () => {
  it("apply every other replica's bookings, so replica 0's book ends at zero with the others' requests in it", async () => {
    const probes: number[] = [];
    const result = await simulateSmall({
      ...small,
      replicas: { count: 2, sync: true, syncMs: 1 },
      probe: (s) => probes.push(s.loads.reduce((n, l) => n + l.inflightRequests, 0)),
    });
    const s = result.summary;
    expect(s.requests.completed).toBe(s.requests.sent);
    expect(result.setup).toMatchObject({ router_replicas: 2, replica_sync: true });
    expect((result.setup as { sync_deltas?: number }).sync_deltas).toBeGreaterThan(s.requests.sent * 2);
    for (const load of result.finalLoads)
      expect(load).toMatchObject({ inflightRequests: 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 });
    expect(Math.max(...probes)).toBeGreaterThan(0);
  }, 60_000);

  it('share nothing when sync is off, and repeat exactly for one seed', async () => {
    const options = { ...small, replicas: { count: 2, sync: false, syncMs: 1 } };
    const [a, b] = [await simulateSmall(options), await simulateSmall(options)];
    expect((a.setup as { sync_deltas?: number }).sync_deltas).toBe(0);
    expect(comparable(a)).toEqual(comparable(b));
  }, 60_000);

  it('refuses replicas with the planner (it feeds one dispatcher)', async () => {
    await expect(
      runSimulation(
        simOptions({
          ...small,
          planner: true,
          config: { disaggregation: { mode: 'auto' } },
          prefillWorkers: 1,
          replicas: { count: 2, sync: true, syncMs: 1 },
        }),
      ),
    ).rejects.toThrow(/--replicas above 1 runs without the planner/);
  });
});
