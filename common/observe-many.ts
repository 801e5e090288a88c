import type { Histogram, LabelValues } from 'prom-client';

/**
 * prom-client 15's per-series state of a histogram (lib/histogram.js): `hashMap` holds one entry
 * per label set, `bucketValues` counts observations per upper bound (not cumulative; a value
 * above every bound counts only in `count`, which is the +Inf bucket).
 */
interface SeriesState {
  readonly labels: Record<string, unknown>;
  readonly bucketValues: Record<number, number>;
  sum: number;
  count: number;
}
interface HistogramState {
  readonly hashMap?: Record<string, SeriesState>;
  readonly upperBounds?: readonly number[];
}

/**
 * `histogram.observe(labels, value)` for each of `values`, in order, with the same result (the
 * same bucket counts, count, and sum added in the same order): the first through prom-client's
 * `observe` (it checks the labels and creates the series), the rest straight into that series'
 * state. prom-client's `observe` checks the labels and builds their key on every call (about
 * 1.5 us); a stream's inter-token gaps are observed here once per request, not once per token.
 * A value that is not finite throws, as `observe` does. When prom-client's state is not as
 * expected (another major version) every value goes through `observe`.
 */
export function observeMany<L extends string>(
  histogram: Histogram<L>,
  labels: LabelValues<L>,
  values: readonly number[],
): void {
  if (values.length === 0) return;
  histogram.observe(labels, values[0]!);
  const state = histogram as unknown as HistogramState;
  const series = state.hashMap && state.upperBounds ? findSeries(state.hashMap, labels) : undefined;
  if (series === undefined || state.upperBounds === undefined) {
    for (let i = 1; i < values.length; i++) histogram.observe(labels, values[i]!);
    return;
  }
  const bounds = state.upperBounds;
  // Counted by bound index first: a bucket is keyed by its bound, a number made a string at each access.
  const counts = new Uint32Array(bounds.length);
  for (let i = 1; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    let b = 0;
    while (b < bounds.length && value > bounds[b]!) b++;
    if (b < bounds.length) counts[b]! += 1;
    series.sum += value;
    series.count += 1;
  }
  for (let b = 0; b < bounds.length; b++) if (counts[b]! > 0) series.bucketValues[bounds[b]!]! += counts[b]!;
}

/** The series whose labels are exactly `labels` (a histogram has a handful: a scan costs nothing). */
function findSeries(hashMap: Record<string, SeriesState>, labels: Record<string, unknown>): SeriesState | undefined {
  const names = Object.keys(labels);
  for (const key in hashMap) {
    const series = hashMap[key]!;
    const own = series.labels;
    if (Object.keys(own).length !== names.length) continue;
    if (names.every((name) => own[name] === labels[name])) return series;
  }
  return undefined;
}
