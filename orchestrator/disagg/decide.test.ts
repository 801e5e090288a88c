import { describe, expect, it } from 'vitest';
import type { CandidateReport, RoutingDecision } from '../routing/index.ts';
import { decideDisaggregation, type DecideInput } from './decide.ts';
import type { DecodeCandidateReport, DecodeSelection } from './types.ts';

/** A routing decision choosing `chosen` among reports with the given uncached tokens, queue and prefill seconds and in-flight requests. */
function routed(
  chosen: string | null,
  reports: {
    id: string;
    newTokens: number;
    queueSeconds?: number;
    prefillSeconds?: number;
    inflight?: number;
    eligible?: boolean;
  }[],
): RoutingDecision {
  const candidates = reports.map(
    (r) =>
      ({
        id: r.id,
        eligible: r.eligible ?? true,
        newTokens: r.newTokens,
        cachedTokens: 1000 - r.newTokens,
        load: { inflightRequests: r.inflight ?? 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 },
        cost: {
          queueSeconds: r.queueSeconds ?? 0,
          prefillSeconds: r.prefillSeconds ?? 0,
          decodeSeconds: 0,
          totalSeconds: 0,
        },
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

/** A decode selection of `workerId` whose transfer takes `transferSeconds`. */
const selection = (workerId: string | null, transferSeconds = 0.01): DecodeSelection => ({
  workerId,
  reason: workerId ? `picked ${workerId}` : 'none',
  candidates: workerId
    ? [
        {
          id: workerId,
          terms: { decodeSeconds: 0, transferSeconds, queueSeconds: 0, totalSeconds: transferSeconds },
        } as unknown as DecodeCandidateReport,
      ]
    : [],
});

/**
 * Defaults: d0 would prefill 800 uncached tokens (threshold 500) with 4 sequences decoding, in
 * 0.1 s stalling each by 0.08 s; p0 has 0.5 s queued and prefills in 0.1 s; the transfer 0.01 s.
 * Local 0.1 + 1 x 0.08 x 4 = 0.42 s against remote 0.61 s: local.
 */
function input(
  overrides: Partial<DecideInput> & { mode?: DecideInput['options']['mode'] },
): DecideInput & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    options: { mode: overrides.mode ?? 'auto', thresholdTokens: 500, stallWeight: 1, ttftTargetSeconds: 1 },
    promptTokens: 1000,
    atMs: 0,
    aggregated: routed('d0', [{ id: 'd0', newTokens: 800, inflight: 4 }]),
    prefill: () => (
      calls.push('prefill'), routed('p0', [{ id: 'p0', newTokens: 1000, queueSeconds: 0.5, prefillSeconds: 0.1 }])
    ),
    decode: () => (calls.push('decode'), selection('d0')),
    local: () => (calls.push('local'), { prefillSeconds: 0.1, stallSeconds: 0.08 }),
    waitSeconds: (report) => report.cost.queueSeconds,
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

  it('prices both placements once a decode worker is chosen, and keeps the prefill local when it is cheaper', () => {
    const i = input({});
    const decision = decideDisaggregation(i);
    expect(i.calls).toEqual(['prefill', 'decode', 'local']);
    expect(decision.disaggregate).toBe(false);
    expect(decision.workerId).toBe('d0');
    expect(decision.placement).toMatchObject({ stalledSequences: 4, remote: false });
    expect(decision.placement!.localTtftSeconds).toBeCloseTo(0.1, 9);
    expect(decision.placement!.localCostSeconds).toBeCloseTo(0.42, 9);
    expect(decision.placement!.remoteTtftSeconds).toBeCloseTo(0.61, 9);
    expect(decision.reason).toMatch(/local prefill is cheaper: remote 610\.0 ms .* against local 420\.0 ms/);
  });

  it('disaggregates when the stall on the decode batch outweighs the remote wait and transfer', () => {
    // 12 decoding: local 0.1 + 0.08 x 12 = 1.06 s against remote 0.61 s.
    const i = input({ aggregated: routed('d0', [{ id: 'd0', newTokens: 800, inflight: 12 }]) });
    const decision = decideDisaggregation(i);
    expect(decision.disaggregate).toBe(true);
    expect(decision).toMatchObject({ workerId: null, prefillWorkerId: 'p0', decodeWorkerId: 'd0' });
    expect(decision.placement!.remote).toBe(true);
    expect(decision.placement!.localCostSeconds).toBeCloseTo(1.06, 9);
    expect(decision.reasons.join('\n')).toMatch(/remote prefill is cheaper/);
    // With stall weight 0 only the TTFTs count: 0.1 s local beats 0.61 s remote.
    const ttftOnly = decideDisaggregation({ ...i, options: { ...i.options, stallWeight: 0 } });
    expect(ttftOnly.disaggregate).toBe(false);
    expect(ttftOnly.placement!.localCostSeconds).toBeCloseTo(0.1, 9);
  });

  it("prices each side's wait with waitSeconds, not the routing cost's queue term", () => {
    // p0's routing cost says 0 s queued, its wait is 0.95 s: remote 0.95 + 0.1 + 0.01 = 1.06 s
    // misses the 1 s target, local 0.1 s meets it, so local wins despite 12 decoding sequences
    // (with the routing cost's 0 s both meet and the 0.96 s stall sends it remote, as above).
    const i = input({
      aggregated: routed('d0', [{ id: 'd0', newTokens: 800, inflight: 12 }]),
      prefill: () => routed('p0', [{ id: 'p0', newTokens: 1000, queueSeconds: 0, prefillSeconds: 0.1 }]),
      waitSeconds: (report) => (report.id === 'p0' ? 0.95 : 0),
    });
    const decision = decideDisaggregation(i);
    expect(decision.disaggregate).toBe(false);
    expect(decision.placement!.remoteTtftSeconds).toBeCloseTo(1.06, 9);
    expect(decision.reason).toMatch(/only local prefill meets the TTFT target: remote 1060\.0 ms \(wait 950\.0 ms/);
  });

  it('ignores the threshold and the placement cost in mode always', () => {
    const i = input({
      mode: 'always',
      aggregated: routed('d0', [{ id: 'd0', newTokens: 10 }]),
      prefill: () => routed('p0', [{ id: 'p0', newTokens: 10, queueSeconds: 60 }]),
    });
    const decision = decideDisaggregation(i);
    expect(decision.disaggregate).toBe(true);
    expect(decision).toMatchObject({ workerId: null, prefillWorkerId: 'p0', decodeWorkerId: 'd0', placement: null });
    expect(i.calls).not.toContain('local');
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
