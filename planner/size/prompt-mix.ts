import { histogramBuckets, type HistogramBucket } from '../observe/histogram.ts';
import type { Distribution } from '../types.ts';

/** One slice of the prompt-length distribution: prompts spread evenly over [lower, upper] tokens. */
export interface PromptBucket {
  /** Tokens (cached part included); lower <= upper, equal for a point mass. */
  readonly lower: number;
  readonly upper: number;
  /** Share of the requests described, 0-1; a mix's shares sum to 1. */
  readonly share: number;
}

/** The prompt lengths of one group of requests (the disaggregated ones), as weighted buckets. */
export interface PromptMix {
  readonly buckets: readonly PromptBucket[];
}

/**
 * The prompts longer than `cutTokens` (the requests the prefill pool serves), from the ISL
 * histogram: its buckets above the cut, the one holding the cut trimmed to start at it (uniform
 * within a bucket, as splitAtThreshold assumes). The +Inf bucket becomes a point at its lower
 * bound (nothing is known beyond it). Without a histogram, or when it holds nothing above the
 * cut, every request is taken to have `fallbackIslMean` tokens: a point mass.
 */
export function promptsAbove(cutTokens: number, isl: Distribution | undefined, fallbackIslMean: number): PromptMix {
  const point: PromptMix = { buckets: [{ lower: fallbackIslMean, upper: fallbackIslMean, share: 1 }] };
  if (!isl) return point;
  const raw: HistogramBucket[] = [];
  for (const { lower, upper, count } of histogramBuckets(isl)) {
    if (count <= 0 || upper <= cutTokens) continue;
    const from = Math.max(lower, cutTokens);
    if (upper === Infinity) {
      raw.push({ lower: from, upper: from, count });
      continue;
    }
    const kept = upper > lower ? (upper - from) / (upper - lower) : 1;
    raw.push({ lower: from, upper, count: count * kept });
  }
  const total = raw.reduce((sum, bucket) => sum + bucket.count, 0);
  if (!(total > 0)) return point;
  return { buckets: raw.map(({ lower: l, upper: u, count }) => ({ lower: l, upper: u, share: count / total })) };
}

/** The q-quantile of a mix's prompt length, tokens (linear within a bucket); q in [0, 1]. */
export function promptMixQuantile(mix: PromptMix, q: number): number {
  let below = 0;
  for (const bucket of mix.buckets) {
    if (below + bucket.share >= q) {
      const within = bucket.share > 0 ? (q - below) / bucket.share : 1;
      return bucket.lower + (bucket.upper - bucket.lower) * Math.min(1, Math.max(0, within));
    }
    below += bucket.share;
  }
  return mix.buckets.at(-1)?.upper ?? 0;
}

/** Points per bucket when integrating a function of the prompt length over a mix (midpoint rule). */
const SAMPLES_PER_BUCKET = 8;

/**
 * The mean and second moment of `f(prompt length)` over the mix, e.g. a prefill's seconds:
 * E[f] and E[f^2], by the midpoint rule within each bucket.
 */
export function promptMixMoments(
  mix: PromptMix,
  f: (islTokens: number) => number,
): { mean: number; secondMoment: number } {
  let mean = 0;
  let secondMoment = 0;
  for (const bucket of mix.buckets) {
    const samples = bucket.upper > bucket.lower ? SAMPLES_PER_BUCKET : 1;
    for (let k = 0; k < samples; k++) {
      const x = bucket.lower + ((bucket.upper - bucket.lower) * (k + 0.5)) / samples;
      const value = f(x);
      mean += (bucket.share / samples) * value;
      secondMoment += (bucket.share / samples) * value * value;
    }
  }
  return { mean, secondMoment };
}
