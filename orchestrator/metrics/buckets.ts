/**
 * Histogram bucket bounds for the orchestrator's metrics. Latency buckets follow vLLM's
 * (vllm/v1/metrics/loggers.py) with finer bounds at the low end, where simulated workers and the
 * router itself live; token-count buckets are vLLM's 1-2-5 series up to the context length.
 */

/** Seconds. Time to first token: 1 ms .. 40 min. */
export const TTFT_BUCKETS_S = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
];

/** Seconds. Gap between consecutive token events of one stream. */
export const ITL_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];

/** Seconds. Whole request. */
export const E2E_BUCKETS_S = [
  0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];

/** Seconds. One routing decision: hashing + index lookup + policy (goal p99 <= 1 ms). */
export const ROUTER_DECISION_BUCKETS_S = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
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
