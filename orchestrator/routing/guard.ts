import type { CostTerms } from './types.ts';

/**
 * The hotspot guard peers lack (llm-d users report bursts piling onto one pod): a healthy
 * worker whose load runs far past the least-loaded healthy worker's is held back from every
 * policy, even when it holds the prefix. "Far" is SGLang's balance test applied to two loads:
 * in-flight requests, and queued prefill time in seconds (fair across mixed GPUs). A load is
 * far past the minimum when it exceeds it by more than `abs` AND is more than `rel` times it.
 * The least-loaded worker itself is never held back, so a healthy pool always keeps a choice.
 */
export interface GuardOptions {
  readonly enabled: boolean;
  readonly inflightAbs: number;
  readonly inflightRel: number;
  readonly queueAbsSeconds: number;
  readonly queueRel: number;
}

export interface GuardInput {
  readonly healthy: boolean;
  readonly inflightRequests: number;
  readonly cost: Pick<CostTerms, 'queueSeconds'>;
}

/** For each candidate, why the guard holds it back, or null (unhealthy ones are not judged). */
export function hotspotExclusions(candidates: readonly GuardInput[], options: GuardOptions): (string | null)[] {
  const result = candidates.map(() => null as string | null);
  if (!options.enabled) return result;
  let minInflight = Number.POSITIVE_INFINITY;
  let minQueue = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    if (!c.healthy) continue;
    minInflight = Math.min(minInflight, c.inflightRequests);
    minQueue = Math.min(minQueue, c.cost.queueSeconds);
  }
  candidates.forEach((c, i) => {
    if (!c.healthy) return;
    if (
      c.inflightRequests - minInflight > options.inflightAbs &&
      c.inflightRequests > minInflight * options.inflightRel
    ) {
      result[i] =
        `hotspot guard: ${c.inflightRequests} requests in flight against ${minInflight} on the least loaded worker`;
    } else if (
      c.cost.queueSeconds - minQueue > options.queueAbsSeconds &&
      c.cost.queueSeconds > minQueue * options.queueRel
    ) {
      result[i] =
        `hotspot guard: ${c.cost.queueSeconds.toFixed(2)} s of queued prefill against ${minQueue.toFixed(2)} s on the least loaded worker`;
    }
  });
  return result;
}
