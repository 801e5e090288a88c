import { histogramBuckets } from '../observe/histogram.ts';
import type { Distribution } from '../types.ts';

/** How the traffic divides between disaggregated (remote prefill) and local (aggregated) requests. */
export interface LoadSplit {
  /** Share of requests whose uncached prompt exceeds the threshold, 0-1. */
  readonly remoteShare: number;
  /** Mean prompt length (tokens, cached part included) of each part; 0 for an empty part. */
  readonly remoteIslMean: number;
  readonly localIslMean: number;
}

/**
 * Splits requests at `thresholdTokens` of uncached prompt. A request's uncached prompt is
 * isl * (1 - hit), so the cut falls at isl = threshold / (1 - hit). With a prompt-length
 * histogram, the share below the cut and its mean come from the buckets (linear within a bucket,
 * bucket midpoints for the mean); the remote mean is whatever keeps the overall mean exact.
 * Without one, every request is taken to have the mean length.
 */
export function splitAtThreshold(
  islMean: number,
  hitRate: number,
  thresholdTokens: number,
  isl: Distribution | undefined,
): LoadSplit {
  const cut = hitRate >= 1 ? Infinity : thresholdTokens / (1 - hitRate);
  const total = isl ? (isl.counts.at(-1) ?? 0) : 0;
  if (!isl || total <= 0) {
    return islMean > cut
      ? { remoteShare: 1, remoteIslMean: islMean, localIslMean: 0 }
      : { remoteShare: 0, remoteIslMean: 0, localIslMean: islMean };
  }
  let below = 0; // requests with isl <= cut
  let belowTokens = 0;
  for (const { lower, upper, count } of histogramBuckets(isl)) {
    if (lower >= cut) break;
    const top = Math.min(upper, cut);
    const fraction =
      upper === Infinity ? (top === Infinity ? 1 : 0) : upper > lower ? (top - lower) / (upper - lower) : 1;
    const taken = count * fraction;
    below += taken;
    belowTokens += taken * (top === Infinity ? lower : (lower + top) / 2);
  }
  const localShare = Math.min(1, below / total);
  const remoteShare = 1 - localShare;
  const localIslMean = below > 0 ? belowTokens / below : 0;
  const remoteIslMean = remoteShare > 1e-9 ? Math.max(cut, (islMean - localShare * localIslMean) / remoteShare) : 0;
  return { remoteShare: remoteShare > 1e-9 ? remoteShare : 0, remoteIslMean, localIslMean };
}
