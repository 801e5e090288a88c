import { describe, expect, it } from 'vitest';
import { arrivalVerdict, createTtftEstimate, waitBudget } from './wait-budget.ts';

describe('the waiting budget', () => {
  it('is factor x the fleet TTFT, at most the timeout; the timeout before any TTFT is known', () => {
    expect(waitBudget(undefined, 2, 500)).toEqual({ budgetMs: 500, ttftMs: undefined });
    expect(waitBudget(12, 2, 500)).toEqual({ budgetMs: 24, ttftMs: 12 });
    expect(waitBudget(400, 2, 500)).toEqual({ budgetMs: 500, ttftMs: 400 });
  });
});

describe('an arrival at the line', () => {
  it('joins while its expected wait, (waiting + 1) / rate, fits the budget, and is refused past it', () => {
    // 50 per second: each place in line is 20 ms.
    expect(arrivalVerdict(1, 64, 50, 40)).toEqual({ kind: 'queue' }); // 2 / 50 = 40 ms: fits exactly
    const refused = arrivalVerdict(2, 64, 50, 40);
    expect(refused.kind).toBe('too-long');
    expect(refused.kind === 'too-long' && refused.expectedWaitS).toBeCloseTo(0.06, 9);
    // The old rule (budget = the 500 ms timeout) would have let 24 wait.
    expect(arrivalVerdict(24, 64, 50, 500)).toEqual({ kind: 'queue' });
    expect(arrivalVerdict(24, 64, 50, 40).kind).toBe('too-long');
  });

  it('always joins an empty line (a freed slot is refilled at once), and any line while no rate is known', () => {
    expect(arrivalVerdict(0, 64, 1, 5)).toEqual({ kind: 'queue' });
    expect(arrivalVerdict(30, 64, undefined, 5)).toEqual({ kind: 'queue' });
  });

  it('is refused past maxQueued whatever the rate', () => {
    expect(arrivalVerdict(64, 64, 1000, 500)).toEqual({ kind: 'full', maxQueued: 64 });
    expect(arrivalVerdict(0, 0, undefined, 500)).toEqual({ kind: 'full', maxQueued: 0 });
  });
});

describe("the fleet's TTFT estimate", () => {
  it('is the 90th percentile of the recent samples, none before minSamples', () => {
    const estimate = createTtftEstimate({ samples: 100, minSamples: 10 });
    for (let i = 1; i <= 9; i++) estimate.add(i);
    expect(estimate.estimateMs()).toBeUndefined();
    for (let i = 10; i <= 100; i++) estimate.add(i);
    expect(estimate.estimateMs()).toBe(91);
  });

  it('forgets samples older than the last `samples` (a fleet that got faster is believed), and skips nonsense', () => {
    const estimate = createTtftEstimate({ samples: 20, minSamples: 1 });
    for (let i = 0; i < 20; i++) estimate.add(500);
    expect(estimate.estimateMs()).toBe(500);
    for (let i = 0; i < 20; i++) estimate.add(8);
    estimate.add(Number.NaN);
    estimate.add(-3);
    expect(estimate.estimateMs()).toBe(8);
    // One slow request in twenty is above the 90th percentile: it does not set the budget alone.
    estimate.add(900);
    expect(estimate.estimateMs()).toBe(8);
  });
});
