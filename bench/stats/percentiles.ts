/**
 * Exact quantiles of samples: linear interpolation between the two closest ranks (numpy's
 * default `linear`, Hyndman-Fan type 7): for sorted x of length n and q in [0, 1],
 * h = (n - 1) q, value = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
 */
export function quantileOfSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(h);
  const below = sorted[lo]!;
  const above = sorted[Math.min(n - 1, lo + 1)]!;
  return below + (h - lo) * (above - below);
}

/** The figures a report shows for one metric. Units are the metric's (ms for latencies). */
export interface Percentiles {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Exact percentiles of the samples (sorted in a copy); null when there are none. */
export function percentilesOf(samples: ArrayLike<number>): Percentiles | null {
  const n = samples.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    mean: sum / n,
    min: sorted[0]!,
    p50: quantileOfSorted(sorted, 0.5),
    p90: quantileOfSorted(sorted, 0.9),
    p99: quantileOfSorted(sorted, 0.99),
    max: sorted[n - 1]!,
  };
}
