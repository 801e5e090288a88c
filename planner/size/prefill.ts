import type { PerfModel } from './perf-model.ts';

/** How hard one prefill replica may be driven for its queue to stay within the TTFT target. */
export interface PrefillOperatingPoint {
  /** Seconds one prompt's prefill occupies a replica. */
  readonly serviceSeconds: number;
  /** Seconds of the TTFT target left for queueing + prefill (after the transfer and first decode step). */
  readonly budgetSeconds: number;
  /** Utilisation planned for, (0, 1]. */
  readonly utilization: number;
  /** Requests/s one replica serves at that utilisation. */
  readonly requestsPerSecond: number;
  /** Uncached prompt tokens/s one replica serves at that utilisation. */
  readonly tokensPerSecond: number;
  readonly ttftReachable: boolean;
}

/** Utilisation planned for when even an idle replica misses the TTFT target: size for throughput. */
export const UNREACHABLE_TTFT_UTILIZATION = 0.5;

/**
 * One prefill replica treated as an M/D/1 queue (Poisson arrivals, a fixed service time S per
 * prompt): mean TTFT = S + rho S / (2 (1 - rho)). Solving TTFT <= budget for the utilisation
 * rho gives rho <= 2 (r - 1) / (1 + 2 (r - 1)) with r = budget / S, capped by `maxUtilization`.
 * Per-replica M/D/1 is conservative for a pool (a shared queue over c replicas waits less).
 */
export function prefillOperatingPoint(
  perf: PerfModel,
  effectiveIslTokens: number,
  cachedTokens: number,
  budgetSeconds: number,
  maxUtilization: number,
): PrefillOperatingPoint {
  const tokens = Math.max(1, effectiveIslTokens);
  const serviceSeconds = perf.prefillSeconds(tokens, Math.max(0, cachedTokens));
  const ratio = budgetSeconds / serviceSeconds;
  const ttftReachable = ratio > 1;
  const utilization = ttftReachable ? Math.min(maxUtilization, (2 * (ratio - 1)) / (1 + 2 * (ratio - 1))) : Math.min(maxUtilization, UNREACHABLE_TTFT_UTILIZATION);
  const requestsPerSecond = utilization / serviceSeconds;
  return { serviceSeconds, budgetSeconds, utilization, requestsPerSecond, tokensPerSecond: requestsPerSecond * tokens, ttftReachable };
}
