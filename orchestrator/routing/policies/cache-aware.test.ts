import { describe, expect, it } from 'vitest';
import { candidates, core, tokens } from '../testing/fleet.ts';
import { createCacheFleet } from '../../../test/fakes/prefix-cache.ts';

describe('cache-aware policy (SGLang thresholds)', () => {
  const setup = () => {
    const c = core({ policy: 'cache-aware', guard: { enabled: false } });
    const pool = candidates(3);
    const fleet = createCacheFleet(pool.map((w) => ({ id: w.id, blockSize: 16, capacityBlocks: 10_000 })));
    return { ...c, pool, fleet };
  };

  it('takes the best prefix match when it covers more than the threshold', () => {
    const { router, index, pool, fleet } = setup();
    fleet.serve('w1', tokens(16 * 40), index);
    const decision = router.route({ tokenIds: tokens(16 * 100) }, pool);
    expect(decision.workerId).toBe('w1');
    expect(decision.reason).toMatch(/prefix match 40% > 30%/);
  });

  it('takes the worker with the smallest cache when the best match is below the threshold', () => {
    const { router, index, pool, fleet } = setup();
    fleet.serve('w0', tokens(16 * 20), index);
    fleet.serve('w1', tokens(16 * 50, 90_000), index);
    fleet.serve('w2', tokens(16 * 30, 50_000), index);
    const decision = router.route({ tokenIds: tokens(16 * 100) }, pool);
    expect(decision.workerId).toBe('w0'); // 20% match, and the smallest tree (20 blocks)
    expect(decision.reason).toMatch(/smallest cache \(20 blocks\)/);
  });

  it('takes the least-loaded worker when in-flight loads are imbalanced, whatever is cached', () => {
    const { router, index, load, pool, fleet } = setup();
    fleet.serve('w1', tokens(16 * 90), index);
    for (let i = 0; i < 70; i++) load.book('w1', { prefillTokens: 0, decodeBlocks: 0 }, 0);
    for (let i = 0; i < 5; i++) load.book('w0', { prefillTokens: 0, decodeBlocks: 0 }, 0);
    const decision = router.route({ tokenIds: tokens(16 * 100) }, pool);
    expect(decision.workerId).toBe('w2');
    expect(decision.reason).toMatch(/loads imbalanced \(70 vs 0/);
  });
});
