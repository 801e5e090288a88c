import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { parseRateStages, stageAt, stagedPoissonArrivals } from './arrivals.ts';

describe('a rate ladder', () => {
  it('parses rate x seconds stages and refuses anything else, naming the stage', () => {
    expect(parseRateStages('15x50, 3x20,0.5x10')).toEqual({
      ok: true,
      value: [
        { ratePerS: 15, durationS: 50 },
        { ratePerS: 3, durationS: 20 },
        { ratePerS: 0.5, durationS: 10 },
      ],
    });
    for (const bad of ['15', '15x', 'x20', '0x20', '15x0', '15x20,', 'fast x 20']) {
      const parsed = parseRateStages(bad);
      expect(parsed.ok || parsed.error.message).toMatch(/expected rate x seconds/);
    }
  });

  it('sends each stage at its own rate (counts within 5 standard deviations of Poisson)', () => {
    const stages = [
      { ratePerS: 50, durationS: 20 },
      { ratePerS: 5, durationS: 40 },
      { ratePerS: 200, durationS: 10 },
    ];
    const arrivals = stagedPoissonArrivals(createRng('ladder'), stages);
    const counts = [0, 0, 0];
    for (let at = arrivals.next(); at < 70_000; at = arrivals.next()) counts[stageAt(stages, at)]!++;
    for (const [i, stage] of stages.entries()) {
      const expected = stage.ratePerS * stage.durationS;
      expect(Math.abs(counts[i]! - expected)).toBeLessThan(5 * Math.sqrt(expected));
    }
  });
});
