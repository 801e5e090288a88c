import type { CandidateReport, RoutingDecision } from '../routing/index.ts';
import { comparePlacements } from './placement.ts';
import type { DecodeSelection, DisaggDecision, DisaggOptions, PlacementTerms } from './types.ts';

/**
 * The disaggregation decision, pure: the routing decisions go in, the verdict and every reason
 * come out. The rules, in order:
 *
 * 1. Aggregated routing over the decode-capable pool picks the best decode-capable worker (the
 *    configured policy: for `kv`, cached prefix against load). Without one, nothing can serve.
 * 2. `never`: aggregated on that worker.
 * 3. `auto`: its uncached prompt tokens (prompt minus its cached prefix) at or below
 *    `thresholdTokens`: aggregated there; moving the KV would cost more than prefilling locally.
 * 4. A prefill worker by KV overlap (routing over the prefill pool). None eligible: aggregated.
 * 5. A decode worker by decode load plus the transfer it would need (decode-selection.ts).
 * 6. Prefill and decode on one worker (a pool of `both` workers): aggregated there.
 * 7. `auto`: the two placements priced (placement.ts): remote = the prefill worker's wait and
 *    prefill + the transfer to the decode worker; local = the rule-1 worker's wait and prefill
 *    beside its decode batch + `stallWeight` x the stall that batch suffers (each wait: the
 *    prefill queued there, floored by the router's bookings). If only one meets
 *    the TTFT target, that one; else local when not dearer: aggregated there.
 * 8. Otherwise: disaggregated.
 *
 * The prefill routing, decode selection and local prefill are passed as thunks so they are only
 * computed when a rule needs them (most short prompts stop at rule 3). `always` skips rules 3 and 7.
 */
export interface DecideInput {
  readonly options: Pick<DisaggOptions, 'mode' | 'thresholdTokens' | 'stallWeight' | 'ttftTargetSeconds'>;
  readonly promptTokens: number;
  readonly atMs: number;
  /** Routing over the decode-capable pool; null when the fleet has no decode-capable worker. */
  readonly aggregated: RoutingDecision | null;
  /** Routing over the prefill pool; null when there is none. */
  readonly prefill: () => RoutingDecision | null;
  readonly decode: () => DecodeSelection | null;
  /** The rule-1 worker's prefill of the request beside its decode batch (placement.ts `localPrefill`). */
  readonly local: () => { readonly prefillSeconds: number; readonly stallSeconds: number };
  /**
   * Prefill queued ahead of the request on a worker, seconds, as rule 7 prices both sides'
   * wait (placement.ts `queuedPrefillSeconds`: the load book's figure floored by the router's bookings).
   */
  readonly waitSeconds: (report: CandidateReport) => number;
}

export function decideDisaggregation(input: DecideInput): DisaggDecision {
  const { mode, thresholdTokens, stallWeight, ttftTargetSeconds } = input.options;
  const reasons: string[] = [];
  const aggregated = input.aggregated;
  let prefill: RoutingDecision | null = null;
  let decode: DecodeSelection | null = null;
  let prefillQueueSeconds: number | null = null;
  let placement: PlacementTerms | null = null;
  const chosen = aggregated?.workerId ? aggregated.candidates.find((c) => c.id === aggregated.workerId) : undefined;
  const uncachedTokens = chosen ? chosen.newTokens : null;

  const verdict = (disaggregate: boolean, reason: string): DisaggDecision => {
    reasons.push(reason);
    return {
      mode,
      disaggregate,
      workerId: disaggregate ? null : (chosen?.id ?? null),
      prefillWorkerId: disaggregate ? prefill!.workerId : null,
      decodeWorkerId: disaggregate ? decode!.workerId : null,
      reason,
      reasons,
      promptTokens: input.promptTokens,
      uncachedTokens,
      thresholdTokens,
      prefillQueueSeconds,
      placement,
      aggregated,
      prefill,
      decode,
      atMs: input.atMs,
    };
  };

  if (!aggregated || !chosen)
    return verdict(false, `cannot serve: ${aggregated?.reason ?? 'no decode-capable worker'}`);
  reasons.push(
    `best decode-capable worker ${chosen.id} would prefill ${chosen.newTokens} of ${input.promptTokens} prompt tokens (${chosen.cachedTokens} cached)`,
  );
  if (mode === 'never') return verdict(false, `aggregated on ${chosen.id}: disaggregation mode is never`);
  if (mode === 'auto' && chosen.newTokens <= thresholdTokens) {
    return verdict(
      false,
      `aggregated on ${chosen.id}: ${chosen.newTokens} uncached tokens are within the ${thresholdTokens}-token threshold`,
    );
  }
  if (mode === 'auto')
    reasons.push(`${chosen.newTokens} uncached tokens exceed the ${thresholdTokens}-token threshold`);

  prefill = input.prefill();
  if (!prefill?.workerId)
    return verdict(
      false,
      `aggregated on ${chosen.id}: ${prefill ? `no prefill worker (${prefill.reason})` : 'there is no prefill pool'}`,
    );
  for (const c of prefill.candidates)
    if (c.eligible)
      prefillQueueSeconds = Math.min(prefillQueueSeconds ?? Number.POSITIVE_INFINITY, c.cost.queueSeconds);
  reasons.push(`prefill on ${prefill.workerId}: ${prefill.reason}`);

  decode = input.decode();
  if (!decode?.workerId)
    return verdict(false, `aggregated on ${chosen.id}: ${decode ? decode.reason : 'no decode selection'}`);
  if (decode.workerId === prefill.workerId)
    return verdict(
      false,
      `aggregated on ${chosen.id}: prefill and decode would run on the same worker ${decode.workerId}`,
    );
  reasons.push(`decode on ${decode.workerId}: ${decode.reason}`);
  if (mode === 'auto') {
    const p = prefill.candidates.find((c) => c.id === prefill!.workerId)!;
    const d = decode.candidates.find((c) => c.id === decode!.workerId);
    const local = input.local();
    const localWait = input.waitSeconds(chosen);
    const remoteWait = input.waitSeconds(p);
    placement = comparePlacements({
      local: {
        queueSeconds: localWait,
        prefillSeconds: local.prefillSeconds,
        stallSeconds: local.stallSeconds,
        stalledSequences: chosen.load.inflightRequests,
      },
      remote: {
        queueSeconds: remoteWait,
        prefillSeconds: p.cost.prefillSeconds,
        transferSeconds: d?.terms.transferSeconds ?? 0,
      },
      stallWeight,
      ttftTargetSeconds,
    });
    const remoteTerms = `remote ${s(placement.remoteTtftSeconds)} (wait ${s(remoteWait)} + prefill ${s(p.cost.prefillSeconds)} + transfer ${s(d?.terms.transferSeconds ?? 0)})`;
    const localTerms = `local ${s(placement.localCostSeconds)} (wait + prefill ${s(placement.localTtftSeconds)} + ${stallWeight} x ${s(placement.stallSeconds)} stall x ${placement.stalledSequences} decoding)`;
    const priced = `${remoteTerms} against ${localTerms}, TTFT target ${s(ttftTargetSeconds)}`;
    const why = (remote: boolean) =>
      placement!.localTtftSeconds <= ttftTargetSeconds !== placement!.remoteTtftSeconds <= ttftTargetSeconds
        ? `only ${remote ? 'remote' : 'local'} prefill meets the TTFT target`
        : `${remote ? 'remote' : 'local'} prefill is cheaper`;
    if (!placement.remote) return verdict(false, `aggregated on ${chosen.id}: ${why(false)}: ${priced}`);
    reasons.push(`${why(true)}: ${priced}`);
  }
  return verdict(
    true,
    mode === 'always'
      ? `disaggregated (mode always): prefill on ${prefill.workerId}, decode on ${decode.workerId}`
      : `disaggregated: prefill on ${prefill.workerId}, decode on ${decode.workerId}`,
  );
}

const s = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;
