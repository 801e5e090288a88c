import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { policyNames } from './registry.ts';
import { candidates, core, tokens } from './testing/fleet.ts';
import { createCacheFleet } from '../../test/fakes/prefix-cache.ts';
import type { Candidate } from './types.ts';

/**
 * Invariants every policy in the registry must keep, checked through the router (which applies
 * the health filter and the hotspot guard before the policy) on seeded random situations.
 */
describe.each(policyNames())('policy %s (conformance)', (policy) => {
  it('never picks an unhealthy, held-back or absent worker', () => {
    const rng = createRng(`invariants-${policy}`);
    const { router, index, load } = core({ policy });
    const fleet = createCacheFleet(candidates(8).map((c) => ({ id: c.id, blockSize: 16, capacityBlocks: 400 })));
    const open: number[] = [];
    for (let step = 0; step < 300; step++) {
      const pool: Candidate[] = candidates(8).map((c) => ({ ...c, healthy: rng.next() < 0.7 }));
      const prompt = tokens(16 * (1 + rng.int(20)), 1000 * rng.int(5));
      const decision = router.route(
        { tokenIds: prompt, sessionKey: rng.next() < 0.7 ? `s${rng.int(20)}` : undefined },
        pool,
      );
      const healthy = pool.filter((c) => c.healthy).map((c) => c.id);
      if (healthy.length === 0) {
        expect(decision.workerId).toBeNull();
        continue;
      }
      expect(healthy).toContain(decision.workerId);
      const chosen = decision.candidates.find((c) => c.id === decision.workerId)!;
      expect(chosen.eligible).toBe(true);
      expect(chosen.excluded).toBeNull();
      open.push(router.commit(decision));
      fleet.serve(decision.workerId!, prompt, index);
      // Streams end in random order, so loads differ between workers.
      while (open.length > 0 && rng.next() < 0.5) load.release(open.splice(rng.int(open.length), 1)[0]!);
    }
  });

  it('makes the same decisions for the same seed and inputs', () => {
    const run = () => {
      const rng = createRng('determinism');
      const { router, index } = core({ policy, seed: 42, kv: { temperature: 0.5 } });
      const fleet = createCacheFleet(candidates(6).map((c) => ({ id: c.id, blockSize: 16, capacityBlocks: 200 })));
      const chosen: (string | null)[] = [];
      for (let step = 0; step < 200; step++) {
        const prompt = tokens(16 * (1 + rng.int(12)), 500 * rng.int(4));
        const decision = router.route({ tokenIds: prompt, sessionKey: `s${rng.int(10)}` }, candidates(6));
        chosen.push(decision.workerId);
        router.commit(decision);
        fleet.serve(decision.workerId!, prompt, index);
      }
      return chosen;
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
  });

  it('spreads equally good candidates instead of picking the first', () => {
    const { router, load } = core({ policy });
    const pool = candidates(8);
    const counts = new Map<string, number>();
    // Identical idle workers, nothing cached, load released at once: every request is a tie.
    for (let i = 0; i < 64; i++) {
      const decision = router.route({ tokenIds: tokens(256) }, pool);
      counts.set(decision.workerId!, (counts.get(decision.workerId!) ?? 0) + 1);
      load.release(router.commit(decision));
    }
    expect(counts.size).toBeGreaterThanOrEqual(6);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(20);
  });

  it('respects the hotspot guard even for the worker that holds the prefix', () => {
    const { router, index, load } = core({ policy });
    const pool = candidates(4);
    const prompt = tokens(16 * 32);
    const fleet = createCacheFleet(pool.map((c) => ({ id: c.id, blockSize: 16, capacityBlocks: 1000 })));
    fleet.serve('w0', prompt, index);
    for (let i = 0; i < 100; i++) load.book('w0', { prefillTokens: 50_000, decodeBlocks: 100 }, 0);
    const rng = createRng(`guard-${policy}`);
    for (let i = 0; i < 40; i++) {
      const decision = router.route({ tokenIds: prompt, sessionKey: `s${rng.int(1000)}` }, pool);
      expect(decision.candidates[0]!.overlapBlocks).toBe(32);
      expect(decision.candidates[0]!.excluded).toMatch(/hotspot guard/);
      expect(decision.workerId).not.toBe('w0');
      load.release(router.commit(decision));
    }
  });
});
