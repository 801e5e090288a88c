/**
 * Histogram bucket bounds for the orchestrator's metrics. Latency buckets follow vLLM's
 * (vllm/v1/metrics/loggers.py) with finer bounds at the low end, where simulated workers and the
 * router itself live; token-count buckets are vLLM's 1-2-5 series up to the context length.
 */

import { VLLM_E2E_BUCKETS_S, VLLM_ITL_BUCKETS_S, VLLM_TTFT_BUCKETS_S } from '../../common/openai/vllm-metric-names.ts';

/** Seconds. Time to first token: 1 ms .. 40 min. */
export const TTFT_BUCKETS_S = [...VLLM_TTFT_BUCKETS_S];

/** Seconds. Gap between consecutive token events of one stream. */
export const ITL_BUCKETS_S = [0.001, 0.0025, 0.005, ...VLLM_ITL_BUCKETS_S];

/** Seconds. Whole request. */
export const E2E_BUCKETS_S = [0.01, 0.05, 0.1, ...VLLM_E2E_BUCKETS_S];

/** Seconds. One routing decision: hashing + index lookup + policy (goal p99 <= 1 ms). */
export const ROUTER_DECISION_BUCKETS_S = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
];

/** Seconds. A refusal while the body arrives (goal: a 7 MB prompt refused in < 50 ms, client-side). */
export const BODY_REFUSAL_BUCKETS_S = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** 1, 2, 5, 10, 20, 50, ... up to and including the first bound >= `max` (vLLM's build_1_2_5_buckets). */
export function oneTwoFiveBuckets(max: number): number[] {
  const out: number[] = [];
  for (let exponent = 1; ; exponent *= 10) {
    for (const mantissa of [1, 2, 5]) {
      const bound = mantissa * exponent;
      out.push(bound);
      if (bound >= max) return out;
    }
  }
}
