import { describe, expect, it } from 'vitest';
import { hotspotExclusions, type GuardOptions } from './guard.ts';

const options: GuardOptions = { enabled: true, inflightAbs: 64, inflightRel: 1.5, queueAbsSeconds: 2, queueRel: 2 };
const worker = (inflightRequests: number, queueSeconds = 0, healthy = true) => ({
  healthy,
  inflightRequests,
  cost: { queueSeconds },
});

describe('hotspot guard', () => {
  it('holds back a worker only when it is past the least loaded by both the absolute and the relative margin', () => {
    expect(hotspotExclusions([worker(10), worker(74)], options)).toEqual([null, null]); // +64 exactly
    expect(hotspotExclusions([worker(10), worker(75)], options)[1]).toMatch(/75 requests in flight against 10/);
    expect(hotspotExclusions([worker(200), worker(265)], options)).toEqual([null, null]); // +65 but < 1.5x
    expect(hotspotExclusions([worker(0, 0.5), worker(0, 3)], options)[1]).toMatch(/3.00 s of queued prefill/);
    expect(hotspotExclusions([worker(0, 2.5), worker(0, 4.6)], options)).toEqual([null, null]); // +2.1 s but < 2x
  });

  it('measures against healthy workers only, never holds back the least loaded, and can be switched off', () => {
    expect(hotspotExclusions([worker(0, 0, false), worker(70), worker(100)], options)).toEqual([null, null, null]);
    expect(hotspotExclusions([worker(500), worker(500)], options)).toEqual([null, null]);
    expect(hotspotExclusions([worker(0), worker(1000)], { ...options, enabled: false })).toEqual([null, null]);
  });
});
