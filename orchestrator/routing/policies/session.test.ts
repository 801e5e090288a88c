import { describe, expect, it } from 'vitest';
import { candidates, core, tokens } from '../testing/fleet.ts';

describe('session policy', () => {
  it('sends every request of a session to the same worker', () => {
    const { router, load } = core({ policy: 'session' });
    const pool = candidates(8);
    for (const key of ['alice', 'bob', 'carol', 'dave']) {
      const first = router.route({ tokenIds: tokens(64), sessionKey: key }, pool);
      for (let i = 0; i < 5; i++) {
        const decision = router.route({ tokenIds: tokens(64 + i), sessionKey: key }, pool);
        expect(decision.workerId).toBe(first.workerId);
        load.release(router.commit(decision));
      }
    }
  });

  it("spills a session whose worker is unhealthy to another, and moves only that worker's sessions", () => {
    const { router } = core({ policy: 'session' });
    const pool = candidates(8);
    const keys = Array.from({ length: 400 }, (_, i) => `user-${i}`);
    const before = keys.map(
      (key) => router.route({ tokenIds: tokens(64), sessionKey: key }, pool, { dryRun: true }).workerId,
    );
    const down = pool.map((c) => (c.id === 'w3' ? { ...c, healthy: false } : c));
    const after = keys.map((key) => router.route({ tokenIds: tokens(64), sessionKey: key }, down, { dryRun: true }));
    expect(after.some((d) => /session target w3 is not eligible \(unhealthy\): spilled over/.test(d.reason))).toBe(
      true,
    );
    after.forEach((d, i) => {
      expect(d.workerId).not.toBe('w3');
      if (before[i] !== 'w3') expect(d.workerId).toBe(before[i]);
    });
    // The lost worker's sessions spread over several others.
    expect(new Set(after.filter((_, i) => before[i] === 'w3').map((d) => d.workerId)).size).toBeGreaterThan(3);
  });

  it('falls back to the least-loaded worker without a session key', () => {
    const { router, load } = core({ policy: 'session' });
    const pool = candidates(3);
    load.book('w0', { prefillTokens: 0, decodeBlocks: 0 }, 0);
    load.book('w2', { prefillTokens: 0, decodeBlocks: 0 }, 0);
    const decision = router.route({ tokenIds: tokens(64) }, pool);
    expect(decision.workerId).toBe('w1');
    expect(decision.reason).toMatch(/no session key/);
  });
});
