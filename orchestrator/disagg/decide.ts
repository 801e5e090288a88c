import type { RoutingDecision } from '../routing/index.ts';
import type { DecodeSelection, DisaggDecision, DisaggOptions } from './types.ts';

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
 * 5. `auto`: the prefill pool saturated (its least-queued eligible worker holds at least
 *    `prefillQueueBoundSeconds` of queued prefill): aggregated, rather than queue behind it.
 * 6. A decode worker by decode load plus the transfer it would need (decode-selection.ts).
 * 7. Prefill and decode on one worker (a pool of `both` workers): aggregated there.
 * 8. Otherwise: disaggregated.
 *
 * The prefill routing and decode selection are passed as thunks so they are only computed when
 * a rule needs them (most short prompts stop at rule 3). `always` skips rules 3 and 5.
 */
export interface DecideInput {
  readonly options: Pick<DisaggOptions, 'mode' | 'thresholdTokens' | 'prefillQueueBoundSeconds'>;
  readonly promptTokens: number;
  readonly atMs: number;
  /** Routing over the decode-capable pool; null when the fleet has no decode-capable worker. */
  readonly aggregated: RoutingDecision | null;
  /** Routing over the prefill pool; null when there is none. */
  readonly prefill: () => RoutingDecision | null;
  readonly decode: () => DecodeSelection | null;
}

export function decideDisaggregation(input: DecideInput): DisaggDecision {
  const { mode, thresholdTokens, prefillQueueBoundSeconds } = input.options;
  const reasons: string[] = [];
  const aggregated = input.aggregated;
  let prefill: RoutingDecision | null = null;
  let decode: DecodeSelection | null = null;
  let prefillQueueSeconds: number | null = null;
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
      prefillQueueBoundSeconds,
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
  const queue = prefillQueueSeconds ?? 0;
  if (mode === 'auto' && queue >= prefillQueueBoundSeconds) {
    return verdict(
      false,
      `aggregated on ${chosen.id}: the prefill pool is saturated (${queue.toFixed(2)} s queued on its least-loaded worker, bound ${prefillQueueBoundSeconds} s)`,
    );
  }
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
  return verdict(
    true,
    mode === 'always'
      ? `disaggregated (mode always): prefill on ${prefill.workerId}, decode on ${decode.workerId}`
      : `disaggregated: prefill on ${prefill.workerId}, decode on ${decode.workerId}`,
  );
}
