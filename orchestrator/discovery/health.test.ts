import { describe, expect, it } from 'vitest';
import { createHealthTracker } from './health.ts';

describe('worker health', () => {
  it('admits a new worker at its first good status, not before', () => {
    const health = createHealthTracker({ failureThreshold: 3, successThreshold: 2 });
    expect(health.state).toBe('pending');
    expect(health.observe(false, 1, 'refused')).toBeNull();
    expect(health.observe(false, 2, 'refused')).toBeNull();
    expect(health.observe(false, 3, 'refused')).toBeNull();
    expect(health.state).toBe('pending');
    expect(health.observe(true, 4)).toBe('healthy');
  });

  it('ejects after failureThreshold failures in a row and readmits after successThreshold successes in a row', () => {
    const health = createHealthTracker({ failureThreshold: 3, successThreshold: 2 });
    health.observe(true, 0);
    health.observe(false, 1, 'a');
    health.observe(false, 2, 'b');
    expect(health.observe(true, 3)).toBeNull(); // a success resets the failure streak
    health.observe(false, 4, 'c');
    health.observe(false, 5, 'd');
    expect(health.state).toBe('healthy');
    expect(health.observe(false, 6, 'e')).toBe('ejected');
    expect(health.snapshot()).toMatchObject({
      state: 'ejected',
      consecutiveFailures: 3,
      ejections: 1,
      lastError: 'e',
      sinceMs: 6,
    });
    expect(health.observe(true, 7)).toBeNull();
    health.observe(false, 8, 'f'); // breaks the success streak
    expect(health.observe(true, 9)).toBeNull();
    expect(health.observe(true, 10)).toBe('healthy');
    expect(health.snapshot()).toMatchObject({
      state: 'healthy',
      consecutiveSuccesses: 2,
      ejections: 1,
      lastCheckAtMs: 10,
    });
  });
});
