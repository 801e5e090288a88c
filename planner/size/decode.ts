import type { PerfModel } from './perf-model.ts';

/** Largest batch any search considers; far above what KV memory allows for real models. */
const MAX_BATCH = 4096;

/** How one decode replica runs when it is as full as the ITL target and its KV memory allow. */
export interface DecodeOperatingPoint {
  /** Sequences decoding together, >= 1. */
  readonly batch: number;
  /** Seconds of one step at that batch (the inter-token latency it gives). */
  readonly stepSeconds: number;
  /** Mean tokens a sequence holds in KV while decoding: isl + osl / 2. */
  readonly contextTokens: number;
  /** Requests/s one replica completes: batch / (osl x step) by Little's law. */
  readonly requestsPerSecond: number;
  /** What stopped the batch from growing. */
  readonly limitedBy: 'itl' | 'kv-memory' | 'itl-unreachable' | 'kv-too-small';
}

/**
 * The largest batch whose step time meets `itlS` at the expected context, capped by the KV
 * cache (`maxKvUsage` of it), found by binary search (step time grows with the batch).
 */
export function decodeOperatingPoint(
  perf: PerfModel,
  islMean: number,
  oslMean: number,
  itlS: number,
  maxKvUsage: number,
): DecodeOperatingPoint {
  const contextTokens = Math.max(1, islMean + oslMean / 2);
  const osl = Math.max(1, oslMean);
  const kvBatch = Math.floor((perf.kvCapacityTokens * maxKvUsage) / contextTokens);
  const point = (batch: number, limitedBy: DecodeOperatingPoint['limitedBy']): DecodeOperatingPoint => {
    const stepSeconds = perf.decodeStepSeconds(batch, contextTokens);
    return { batch, stepSeconds, contextTokens, requestsPerSecond: batch / (osl * stepSeconds), limitedBy };
  };
  if (kvBatch < 1) return point(1, 'kv-too-small');
  if (perf.decodeStepSeconds(1, contextTokens) > itlS) return point(1, 'itl-unreachable');
  const ceiling = Math.min(kvBatch, MAX_BATCH);
  let low = 1; // meets the target
  let high = ceiling + 1; // first batch known (or assumed) not to
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (perf.decodeStepSeconds(mid, contextTokens) <= itlS) low = mid;
    else high = mid;
  }
  return point(low, low === ceiling ? 'kv-memory' : 'itl');
}
