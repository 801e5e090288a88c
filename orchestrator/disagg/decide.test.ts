import { describe, expect, it } from 'vitest';
import type { CandidateReport, RoutingDecision } from '../routing/index.ts';
import { decideDisaggregation, type DecideInput } from './decide.ts';
import type { DecodeSelection } from './types.ts';

/** A routing decision choosing `chosen` among reports with the given uncached tokens and queue seconds. */
function routed(
  chosen: string | null,
  reports: { id: string; newTokens: number; queueSeconds?: number; eligible?: boolean }[],
): RoutingDecision {
  const candidates = reports.map(
    (r) =>
      ({
        id: r.id,
        eligible: r.eligible ?? true,
        newTokens: r.newTokens,
        cachedTokens: 1000 - r.newTokens,
        cost: { queueSeconds: r.queueSeconds ?? 0, prefillSeconds: 0, decodeSeconds: 0, totalSeconds: 0 },
      }) as unknown as CandidateReport,
  );
  return {
    workerId: chosen,
    policy: 'kv',
    reason: chosen ? `picked ${chosen}` : 'none eligible',
    requestId: null,
    promptTokens: 1000,
    atMs: 0,
    candidates,
  };
}

const selection = (workerId: string | null): DecodeSelection => ({
  workerId,
  reason: workerId ? `picked ${workerId}` : 'none',
  candidates: [],
});

function input(
  overrides: Partial<DecideInput> & { mode?: DecideInput['options']['mode'] },
): DecideInput & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    options: { mode: overrides.mode ?? 'auto', thresholdTokens: 500, prefillQueueBoundSeconds: 2 },
    promptTokens: 1000,
    atMs: 0,
    aggregated: routed('d0', [{ id: 'd0', newTokens: 800 }]),
    prefill: () => (calls.push('prefill'), routed('p0', [{ id: 'p0', newTokens: 1000, queueSeconds: 0.5 }])),
    decode: () => (calls.push('decode'), selection('d0')),
    ...overrides,
  };
}

describe('decideDisaggregation', () => {
  it('asks for neither the prefill routing nor the decode selection when the prompt stays aggregated', () => {
    const i = input({ aggregated: routed('d0', [{ id: 'd0', newTokens: 400 }]) });
    const decision = decideDisaggregation(i);
    expect(decision.disaggregate).toBe(false);
    expect(decision.workerId).toBe('d0');
    expect(i.calls).toEqual([]);
    const never = input({ mode: 'never' });
    expect(decideDisaggregation(never).disaggregate).toBe(false);
    expect(never.calls).toEqual([]);
  });

  it('checks the prefill pool before selecting a decode worker', () => {
    const i = input({
      prefill: () => (
        i.calls.push('prefill'),
        routed('p0', [
          { id: 'p0', newTokens: 1000, queueSeconds: 3 },
          { id: 'p1', newTokens: 1000, queueSeconds: 2.5 },
        ])
      ),
    });
    const decision = decideDisaggregation(i);
    expect(decision.disaggregate).toBe(false);
    expect(decision.prefillQueueSeconds).toBe(2.5);
    expect(i.calls).toEqual(['prefill']);
  });

  it('ignores the queue bound and the threshold in mode always', () => {
    const i = input({
      mode: 'always',
      aggregated: routed('d0', [{ id: 'd0', newTokens: 10 }]),
      prefill: () => routed('p0', [{ id: 'p0', newTokens: 10, queueSeconds: 60 }]),
    });
    const decision = decideDisaggregation(i);
    expect(decision.disaggregate).toBe(true);
    expect(decision).toMatchObject({ workerId: null, prefillWorkerId: 'p0', decodeWorkerId: 'd0' });
  });

  it('counts only eligible prefill workers toward the queue, and stays aggregated when prefill and decode coincide', () => {
    const i = input({
      prefill: () =>
        routed('w1', [
          { id: 'w0', newTokens: 1000, queueSeconds: 0, eligible: false },
          { id: 'w1', newTokens: 900, queueSeconds: 1 },
        ]),
      decode: () => selection('w1'),
    });
    const decision = decideDisaggregation(i);
    expect(decision.prefillQueueSeconds).toBe(1);
    expect(decision.disaggregate).toBe(false);
    expect(decision.reason).toMatch(/same worker w1/);
  });

  it('cannot serve without a decode-capable worker', () => {
    const decision = decideDisaggregation(
      input({ aggregated: routed(null, [{ id: 'd0', newTokens: 800, eligible: false }]) }),
    );
    expect(decision.workerId).toBeNull();
    expect(decision.reason).toMatch(/cannot serve: none eligible/);
  });
});
