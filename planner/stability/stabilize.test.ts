import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { INITIAL_POOL_STABILITY, stabilizePool, stabilizeThreshold, type PoolStability } from './index.ts';

const INTERVAL = 30_000;
const options = { scaleDownWindowMs: 300_000, scaleDownHeadroom: 0.2 };

/** Runs a series of demands through the stabiliser, one per interval; returns the replicas decided. */
function run(demands: readonly number[], bounds = { min: 1, max: 64 }): number[] {
  let state: PoolStability = INITIAL_POOL_STABILITY;
  return demands.map((demand, i) => {
    const recommended = Math.min(bounds.max, Math.max(bounds.min, Math.ceil(demand)));
    const step = stabilizePool(
      state,
      { atMs: i * INTERVAL, recommended, demand, minReplicas: bounds.min, maxReplicas: bounds.max },
      options,
    );
    state = step.state;
    return step.replicas;
  });
}

describe('stability', () => {
  it('does not flip between 2 and 1 on a load hovering around one replica', () => {
    // Demand alternates 0.95 / 1.05: sizing alone would answer 1, 2, 1, 2, ... The stabiliser goes
    // to 2 and stays: shrinking to 1 would run that replica at 95-105%, above the 80% allowed.
    const replicas = run(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 0.95 : 1.05)));
    expect(replicas.slice(0, 2)).toEqual([1, 2]);
    expect(new Set(replicas.slice(1))).toEqual(new Set([2]));
  });

  it('never flips on a steady, noisy load', () => {
    const rng = createRng('steady');
    for (const level of [0.9, 2, 3.5, 7.9, 12]) {
      const replicas = run(Array.from({ length: 500 }, () => level * (1 + rng.uniform(-0.1, 0.1))));
      const changes = replicas.slice(1).filter((r, i) => r !== replicas[i]);
      // At most the first climb to the top of the noise band; never a step down.
      expect(changes.length).toBeLessThanOrEqual(1);
      expect(replicas.slice(1).every((r, i) => r >= replicas[i]!)).toBe(true);
    }
  });

  it('follows a step up within one interval', () => {
    const replicas = run([2, 2, 2, 6, 6]);
    expect(replicas).toEqual([2, 2, 2, 6, 6]);
  });

  it('follows a step down only after the window', () => {
    // High (6) through t = 90 s, then 2 from t = 120 s. The last high candidate is at 90 s; with a
    // 300 s window the pool stays at 6 until t = 390 s, the first decision where 90 s is out of it.
    const demands = [6, 6, 6, 6, ...Array.from({ length: 16 }, () => 2)];
    const replicas = run(demands);
    const firstLow = replicas.findIndex((r) => r < 6);
    expect(firstLow * INTERVAL).toBe(390_000);
    expect(replicas[firstLow]).toBe(3); // 2.0 / 3 = 67% <= 80%; 2 replicas would run at 100%
    expect(replicas.slice(firstLow)).toEqual(Array.from({ length: replicas.length - firstLow }, () => 3));
  });

  it('shrinks to the size the remaining replicas can carry with headroom', () => {
    // From 10 to demand 3.9: 4 replicas would run at 97.5%, 5 at 78%: it settles on 5.
    const replicas = run([10, ...Array.from({ length: 20 }, () => 3.9)]);
    expect(replicas.at(-1)).toBe(5);
  });

  it('keeps within min and max', () => {
    expect(run([0, 0, 0], { min: 2, max: 4 })).toEqual([2, 2, 2]);
    expect(run([9, 9], { min: 2, max: 4 })).toEqual([4, 4]);
  });

  it('moves the threshold only beyond its deadband', () => {
    expect(stabilizeThreshold(undefined, 512, 0.1)).toBe(512);
    expect(stabilizeThreshold(512, 544, 0.1)).toBe(512);
    expect(stabilizeThreshold(512, 1024, 0.1)).toBe(1024);
  });
});
