import type { Decision, Distribution, Observation } from './types.ts';

/**
 * A decision as the JSON `tandem planner --once --json` prints and /decision serves:
 * snake_case, units in the names. Stable for scripts: fields are only ever added.
 */
export function decisionToJson(decision: Decision): Record<string, unknown> {
  const { predicted } = decision;
  return {
    at_ms: decision.atMs,
    prefill_replicas: decision.prefillReplicas,
    decode_replicas: decision.decodeReplicas,
    disaggregation_threshold_tokens: decision.disaggregationThresholdTokens,
    gpus: decision.gpus,
    pools: decision.pools.map((pool) => ({
      name: pool.name,
      role: pool.role,
      gpu: pool.gpu,
      model: pool.model,
      tp: pool.tp,
      replicas: pool.replicas,
      recommended: pool.recommended,
      demand: round(pool.demand, 4),
      min_replicas: pool.minReplicas,
      max_replicas: pool.maxReplicas,
    })),
    predicted: {
      request_rate: round(predicted.requestRate, 4),
      isl_mean: round(predicted.islMean, 2),
      osl_mean: round(predicted.oslMean, 2),
      prefix_hit_rate: round(predicted.prefixHitRate, 4),
      effective_isl: round(predicted.islMean * (1 - predicted.prefixHitRate), 2),
    },
    observed: decision.observed === undefined ? null : observationToJson(decision.observed),
    reasons: decision.reasons,
  };
}

function observationToJson(observation: Observation): Record<string, unknown> {
  const out: Record<string, unknown> = {
    at_ms: observation.atMs,
    interval_s: observation.intervalS,
    request_rate: round(observation.requestRate, 4),
    isl_mean: round(observation.islMean, 2),
    osl_mean: round(observation.oslMean, 2),
    prefix_hit_rate: round(observation.prefixHitRate, 4),
  };
  const optional: [string, number | undefined][] = [
    ['ttft_p50_s', observation.ttftP50S],
    ['ttft_p90_s', observation.ttftP90S],
    ['itl_p50_s', observation.itlP50S],
    ['itl_p90_s', observation.itlP90S],
    ['ttft_attainment', observation.ttftAttainment],
    ['itl_attainment', observation.itlAttainment],
    ['queue_depth', observation.queueDepth],
  ];
  for (const [key, value] of optional) if (value !== undefined) out[key] = round(value, 6);
  if (observation.isl) out.isl_histogram = histogramToJson(observation.isl);
  if (observation.osl) out.osl_histogram = histogramToJson(observation.osl);
  if (observation.pools) {
    out.pools = Object.fromEntries(
      Object.entries(observation.pools).map(([name, pool]) => [
        name,
        {
          replicas: pool.replicas,
          inflight_requests: pool.inflightRequests,
          queued_prefill_tokens: pool.queuedPrefillTokens,
          active_kv_blocks: pool.activeKvBlocks,
        },
      ]),
    );
  }
  return out;
}

function histogramToJson(distribution: Distribution): { le: (number | string)[]; counts: number[] } {
  return {
    le: distribution.bounds.map((bound) => (bound === Infinity ? '+Inf' : bound)),
    counts: [...distribution.counts],
  };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
