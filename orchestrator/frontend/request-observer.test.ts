import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { sample, samples } from '../../test/fakes/metric-sample.ts';
import { createOrchestratorMetrics } from '../metrics/index.ts';
import { createRequestObserver } from './request-observer.ts';

describe('request observer', () => {
  it('observes each gap between token events of a stream into the ITL histogram when the request ends, in its mode', async () => {
    const metrics = createOrchestratorMetrics();
    const clock = createVirtualClock(1000);
    const observer = createRequestObserver(metrics, clock, clock.now());
    // First token after 50 ms, then gaps of 2, 4, 4 and 30 ms (an event of 3 tokens counts once).
    for (const [gapMs, tokens] of [
      [50, 1],
      [2, 1],
      [4, 3],
      [4, 1],
      [30, 1],
    ] as const) {
      clock.advance(gapMs);
      observer.tokens(tokens);
    }
    const itl = 'tandem_inter_token_latency_seconds';
    expect(sample(await metrics.render(), `${itl}_count{mode="disaggregated"}`)).toBeUndefined();
    observer.finish('success', 'disaggregated');
    observer.finish('success', 'disaggregated'); // only the first call counts
    const text = await metrics.render();
    const expected = {
      [`${itl}_bucket{le="0.001",mode="disaggregated"}`]: 0,
      [`${itl}_bucket{le="0.0025",mode="disaggregated"}`]: 1,
      [`${itl}_bucket{le="0.005",mode="disaggregated"}`]: 3,
      [`${itl}_bucket{le="0.01",mode="disaggregated"}`]: 3,
      [`${itl}_bucket{le="+Inf",mode="disaggregated"}`]: 4,
      [`${itl}_count{mode="disaggregated"}`]: 4,
      'tandem_requests_total{outcome="success",mode="disaggregated"}': 1,
    };
    expect(samples(text, Object.keys(expected))).toEqual(expected);
    expect(sample(text, `${itl}_sum{mode="disaggregated"}`)).toBeCloseTo(0.04, 12);
    expect(sample(text, `${itl}_count{mode="aggregated"}`)).toBeUndefined();
  });
});
