import type { LatencyPercentiles, TrafficFigures } from './types.ts';

/**
 * Cumulative counters and histograms read from the orchestrator's own metrics at one moment.
 * The page's traffic figures are differences between two such samples, as Prometheus' rate()
 * and histogram_quantile() compute them, so the page and the Grafana dashboard agree.
 */
export interface CumulativeSample {
  /** When it was read, ms. */
  readonly atMs: number;
  /** tandem_requests_total summed by mode (every outcome) and by outcome (every mode). */
  readonly requestsByMode: Readonly<Record<string, number>>;
  readonly requestsByOutcome: Readonly<Record<string, number>>;
  readonly promptTokens: number;
  readonly cachedPromptTokens: number;
  readonly generationTokens: number;
  /** Summed over labels: cumulative counts per upper bound (ascending, +Inf last). */
  readonly ttft: Histogram;
  readonly itl: Histogram;
  readonly queueDepth: number;
}

export interface Histogram {
  /** Upper bounds, seconds, ascending; the last is Infinity. */
  readonly bounds: readonly number[];
  /** Cumulative counts at each bound (Prometheus `le` buckets). */
  readonly counts: readonly number[];
}

export interface MetricWindow {
  /** Adds the newest sample (older than the window ones are dropped, keeping one before it). */
  push(sample: CumulativeSample): void;
  /** Figures over the window ending at the newest sample. */
  figures(): TrafficFigures;
}

/** `windowMs`: how far back rates and percentiles look. */
export function createMetricWindow(windowMs: number): MetricWindow {
  const samples: CumulativeSample[] = [];
  return {
    push(sample) {
      samples.push(sample);
      // Keep the newest sample at or before the window's start, as the baseline.
      while (samples.length > 2 && samples[1]!.atMs <= sample.atMs - windowMs) samples.shift();
    },
    figures() {
      const last = samples.at(-1);
      const first = samples[0];
      if (!last || !first || last === first || last.atMs <= first.atMs) {
        return {
          windowS: 0,
          requestRate: null,
          errorRate: null,
          outputTokensPerS: null,
          ttft: null,
          itl: null,
          hitRate: null,
          disaggregatedShare: null,
          queueDepth: last?.queueDepth ?? 0,
        };
      }
      return trafficBetween(first, last);
    },
  };
}

/** Traffic between two cumulative samples of the same process (`to` later than `from`). */
export function trafficBetween(from: CumulativeSample, to: CumulativeSample): TrafficFigures {
  const seconds = (to.atMs - from.atMs) / 1000;
  const delta = (a: number, b: number) => Math.max(0, b - a);
  const sumDelta = (
    a: Readonly<Record<string, number>>,
    b: Readonly<Record<string, number>>,
    keys?: readonly string[],
  ) => (keys ?? Object.keys(b)).reduce((total, key) => total + delta(a[key] ?? 0, b[key] ?? 0), 0);
  const requests = sumDelta(from.requestsByOutcome, to.requestsByOutcome);
  const failed = sumDelta(from.requestsByOutcome, to.requestsByOutcome, ['error', 'rejected']);
  const routed = sumDelta(from.requestsByMode, to.requestsByMode, ['aggregated', 'disaggregated']);
  const disaggregated = sumDelta(from.requestsByMode, to.requestsByMode, ['disaggregated']);
  const prompt = delta(from.promptTokens, to.promptTokens);
  return {
    windowS: seconds,
    requestRate: requests / seconds,
    errorRate: failed / seconds,
    outputTokensPerS: delta(from.generationTokens, to.generationTokens) / seconds,
    ttft: percentiles(histogramDelta(from.ttft, to.ttft)),
    itl: percentiles(histogramDelta(from.itl, to.itl)),
    hitRate: prompt > 0 ? delta(from.cachedPromptTokens, to.cachedPromptTokens) / prompt : null,
    disaggregatedShare: routed > 0 ? disaggregated / routed : null,
    queueDepth: to.queueDepth,
  };
}

function histogramDelta(from: Histogram, to: Histogram): Histogram {
  // Same buckets in one process; a histogram seen for the first time starts from zero.
  return {
    bounds: to.bounds,
    counts: to.counts.map((count, i) =>
      Math.max(0, count - (from.bounds.length === to.bounds.length ? (from.counts[i] ?? 0) : 0)),
    ),
  };
}

function percentiles(histogram: Histogram): LatencyPercentiles | null {
  const p50 = quantile(0.5, histogram);
  const p90 = quantile(0.9, histogram);
  const p99 = quantile(0.99, histogram);
  return p50 === null || p90 === null || p99 === null ? null : { p50, p90, p99 };
}

/**
 * Prometheus' histogram_quantile: the bucket holding rank q x count, linearly interpolated
 * between its bounds (the first bucket from 0); a rank in the +Inf bucket answers the highest
 * finite bound. Null for an empty histogram.
 */
export function quantile(q: number, histogram: Histogram): number | null {
  const { bounds, counts } = histogram;
  const total = counts.at(-1) ?? 0;
  if (total <= 0 || bounds.length === 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const count = counts[i]!;
    if (count < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (upper === Infinity) return lower;
    const below = i === 0 ? 0 : counts[i - 1]!;
    const inBucket = count - below;
    return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return bounds.at(-2) ?? null;
}
