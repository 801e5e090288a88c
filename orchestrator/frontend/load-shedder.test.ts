import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { createLoadShedder } from './load-shedder.ts';

describe('load shedder', () => {
  it('sheds once a window lags past the threshold and stops only below half of it', async () => {
    const clock = createVirtualClock();
    const lags = [10, 300, 200, 130, 90, 0];
    const seen: number[] = [];
    const shedder = createLoadShedder({
      thresholdMs: 250,
      windowMs: 500,
      clock,
      sampleLagMs: () => lags.shift() ?? 0,
      onSample: (s) => seen.push(s),
    });
    const states: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      await clock.advanceAsync(500);
      states.push(shedder.shedding());
    }
    expect(states).toEqual([false, true, true, true, false, false]);
    expect(seen).toEqual([0.01, 0.3, 0.2, 0.13, 0.09, 0]);
    shedder.close();
  });

  it('never sheds with a threshold of 0, but still reports the lag', async () => {
    const clock = createVirtualClock();
    const shedder = createLoadShedder({ thresholdMs: 0, clock, sampleLagMs: () => 5000 });
    await clock.advanceAsync(500);
    expect(shedder.shedding()).toBe(false);
    expect(shedder.lagMs).toBe(5000);
    shedder.close();
  });
});
