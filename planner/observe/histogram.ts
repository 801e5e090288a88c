import type { Distribution } from '../types.ts';

/**
 * The q-quantile of a cumulative histogram, as Prometheus's histogram_quantile computes it:
 * linear within the bucket holding the rank (the first bucket starts at 0); a rank in the +Inf
 * bucket answers the largest finite bound. Undefined for an empty histogram.
 */
export function histogramQuantile(distribution: Distribution, q: number): number | undefined {
  const total = distribution.counts.at(-1) ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (let i = 0; i < distribution.bounds.length; i++) {
    const bound = distribution.bounds[i]!;
    const count = distribution.counts[i]!;
    if (count >= rank) {
      if (bound === Infinity) return lowerBound;
      if (count === lowerCount) return bound;
      return lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/** One bucket of a histogram on its own (not cumulative): values in (lower, upper], `count` of them. */
export interface HistogramBucket {
  readonly lower: number;
  /** Infinity for the last (+Inf) bucket. */
  readonly upper: number;
  readonly count: number;
}

/**
 * The buckets of a cumulative histogram one by one, the first starting at 0. A count that goes
 * down (a torn read) gives an empty bucket, never a negative one; a missing count repeats the
 * one before.
 */
export function histogramBuckets(distribution: Distribution): HistogramBucket[] {
  const buckets: HistogramBucket[] = [];
  let lower = 0;
  let previous = 0;
  for (let i = 0; i < distribution.bounds.length; i++) {
    const upper = distribution.bounds[i]!;
    const cumulative = distribution.counts[i] ?? previous;
    buckets.push({ lower, upper, count: Math.max(0, cumulative - previous) });
    previous = cumulative;
    lower = upper;
  }
  return buckets;
}

/** Share of observations at or below `limit`, interpolating within its bucket; undefined when empty. */
export function histogramShareBelow(distribution: Distribution, limit: number): number | undefined {
  const total = distribution.counts.at(-1) ?? 0;
  if (!(total > 0)) return undefined;
  let lowerBound = 0;
  let lowerCount = 0;
  for (let i = 0; i < distribution.bounds.length; i++) {
    const bound = distribution.bounds[i]!;
    const count = distribution.counts[i]!;
    if (limit <= bound) {
      if (bound === Infinity) return lowerCount / total;
      const within = bound > lowerBound ? (limit - lowerBound) / (bound - lowerBound) : 1;
      return (lowerCount + (count - lowerCount) * Math.max(0, within)) / total;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return 1;
}

/** Bucket-wise `current - previous`; a counter that went down was reset, so its current value is the delta. */
export function diffDistribution(current: Distribution, previous: Distribution | undefined): Distribution {
  if (!previous) return current;
  const before = new Map(previous.bounds.map((bound, i) => [bound, previous.counts[i]!]));
  const reset = current.bounds.some((bound, i) => current.counts[i]! < (before.get(bound) ?? 0));
  return {
    bounds: current.bounds,
    counts: current.counts.map((count, i) => (reset ? count : count - (before.get(current.bounds[i]!) ?? 0))),
  };
}
