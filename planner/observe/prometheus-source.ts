import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { ORCHESTRATOR_METRICS as M } from '../../orchestrator/metrics/names.ts';
import type { Distribution, Observation } from '../types.ts';
import { histogramQuantile, histogramShareBelow } from './histogram.ts';
import type { PromSample as Sample } from '../../common/prometheus-text.ts';
import { poolGauges, type PoolAttribution } from './scrape-diff.ts';
import { fetchText } from './scrape-source.ts';
import type { ObservationSource } from './source.ts';

export interface PrometheusSourceOptions {
  /** The Prometheus server's base URL, e.g. http://prometheus:9090. */
  readonly url: string;
  /** The rate() window, seconds (the planning interval, at least 30 s so two scrapes fall in it). */
  readonly windowS: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly pools: readonly PoolAttribution[];
  readonly slo: { readonly ttftS: number; readonly itlS: number };
}

/** The PromQL the source runs, by what it measures; `W` is replaced by the window. */
export function prometheusQueries(windowS: number): Record<string, string> {
  const w = `${Math.max(30, Math.round(windowS))}s`;
  const rate = (name: string) => `sum(rate(${name}[${w}]))`;
  const bucketRate = (name: string) => `sum by (le) (rate(${name}_bucket[${w}]))`;
  return {
    requestRate: rate(M.requests),
    promptTokens: rate(M.promptTokens),
    cachedPromptTokens: rate(M.cachedPromptTokens),
    islSum: rate(`${M.requestPromptTokens}_sum`),
    islCount: rate(`${M.requestPromptTokens}_count`),
    oslSum: rate(`${M.requestGenerationTokens}_sum`),
    oslCount: rate(`${M.requestGenerationTokens}_count`),
    ttftBuckets: bucketRate(M.timeToFirstToken),
    itlBuckets: bucketRate(M.interTokenLatency),
    islBuckets: bucketRate(M.requestPromptTokens),
    oslBuckets: bucketRate(M.requestGenerationTokens),
    queueDepth: `sum(${M.queueDepth})`,
    workers: `{__name__=~"${[M.workerHealthy, M.workerInflightRequests, M.workerQueuedPrefillTokens, M.workerActiveKvBlocks].join('|')}"}`,
  };
}

interface VectorResult {
  status: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
  error?: string;
}

/**
 * Observations from a Prometheus server's HTTP API (`/api/v1/query`), for when the orchestrator
 * runs as several replicas and Prometheus already sums them. Rates are over the window; bucket
 * rates give the percentiles, the SLO attainment and the ISL/OSL distributions.
 */
export function createPrometheusSource(options: PrometheusSourceOptions): ObservationSource {
  const queries = prometheusQueries(options.windowS);
  const base = options.url.replace(/\/+$/, '');
  const query = async (promql: string, signal?: AbortSignal) => {
    const text = await fetchText(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`, options.timeoutMs, signal);
    let body: VectorResult;
    try {
      body = JSON.parse(text) as VectorResult;
    } catch (error) {
      throw new TandemError('upstream_error', `Prometheus at ${base} answered something other than JSON`, {
        cause: error,
      });
    }
    if (body.status !== 'success' || !body.data)
      throw new TandemError('upstream_error', `Prometheus query failed (${promql}): ${body.error ?? body.status}`);
    return body.data.result.map(
      (entry): Sample => ({ name: entry.metric.__name__ ?? '', labels: entry.metric, value: Number(entry.value[1]) }),
    );
  };
  return {
    async collect(signal) {
      const names = Object.keys(queries);
      const results = await Promise.all(names.map((name) => query(queries[name]!, signal)));
      const r = Object.fromEntries(names.map((name, i) => [name, results[i]!])) as Record<string, Sample[]>;
      const scalar = (name: string) => {
        const value = r[name]?.[0]?.value;
        return value !== undefined && Number.isFinite(value) ? value : 0;
      };
      const dist = (name: string): Distribution | undefined => {
        const samples = (r[name] ?? []).filter(
          (sample) => sample.labels.le !== undefined && Number.isFinite(sample.value),
        );
        if (samples.length === 0) return undefined;
        const rows = samples
          .map((sample) => [sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le), sample.value] as const)
          .sort((a, b) => a[0] - b[0]);
        return { bounds: rows.map((row) => row[0]), counts: rows.map((row) => row[1]) };
      };
      const ttft = dist('ttftBuckets');
      const itl = dist('itlBuckets');
      const promptTokens = scalar('promptTokens');
      const queue = r.queueDepth?.[0]?.value;
      const observation: Observation = {
        atMs: options.clock.now(),
        intervalS: options.windowS,
        requestRate: scalar('requestRate'),
        islMean: scalar('islCount') > 0 ? scalar('islSum') / scalar('islCount') : 0,
        oslMean: scalar('oslCount') > 0 ? scalar('oslSum') / scalar('oslCount') : 0,
        prefixHitRate: promptTokens > 0 ? Math.min(1, scalar('cachedPromptTokens') / promptTokens) : 0,
        isl: dist('islBuckets'),
        osl: dist('oslBuckets'),
        ttftP50S: ttft && histogramQuantile(ttft, 0.5),
        ttftP90S: ttft && histogramQuantile(ttft, 0.9),
        itlP50S: itl && histogramQuantile(itl, 0.5),
        itlP90S: itl && histogramQuantile(itl, 0.9),
        ttftAttainment: ttft && histogramShareBelow(ttft, options.slo.ttftS),
        itlAttainment: itl && histogramShareBelow(itl, options.slo.itlS),
        queueDepth: queue !== undefined && Number.isFinite(queue) ? queue : undefined,
        pools: poolGauges(r.workers ?? [], options.pools),
      };
      return observation;
    },
  };
}
