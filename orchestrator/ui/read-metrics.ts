import type { Registry } from 'prom-client';
import { ORCHESTRATOR_METRICS as N } from '../metrics/index.ts';
import type { CumulativeSample, Histogram } from './metric-window.ts';

/** What prom-client's Metric.get() resolves to, as far as it is read here. */
interface MetricValues {
  readonly values: readonly {
    readonly value: number;
    readonly metricName?: string;
    readonly labels: Readonly<Record<string, string | number | undefined>>;
  }[];
}

/**
 * Reads the cumulative figures the page needs from the orchestrator's registry (the same series
 * /metrics exports), summed over every label but the ones kept.
 */
export async function readCumulativeSample(registry: Registry, atMs: number): Promise<CumulativeSample> {
  const [requests, prompt, cached, generated, ttft, itl, queue] = await Promise.all(
    [
      N.requests,
      N.promptTokens,
      N.cachedPromptTokens,
      N.generationTokens,
      N.timeToFirstToken,
      N.interTokenLatency,
      N.queueDepth,
    ].map((name) => valuesOf(registry, name)),
  );
  return {
    atMs,
    requestsByMode: sumBy(requests!, 'mode'),
    requestsByOutcome: sumBy(requests!, 'outcome'),
    promptTokens: total(prompt!),
    cachedPromptTokens: total(cached!),
    generationTokens: total(generated!),
    ttft: buckets(ttft!, `${N.timeToFirstToken}_bucket`),
    itl: buckets(itl!, `${N.interTokenLatency}_bucket`),
    queueDepth: total(queue!),
  };
}

async function valuesOf(registry: Registry, name: string): Promise<MetricValues> {
  const metric = registry.getSingleMetric(name);
  return metric ? ((await metric.get()) as MetricValues) : { values: [] };
}

const total = (metric: MetricValues) => metric.values.reduce((sum, v) => sum + v.value, 0);

function sumBy(metric: MetricValues, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of metric.values) {
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

/** Bucket series summed over labels, by upper bound. */
function buckets(metric: MetricValues, bucketName: string): Histogram {
  const byBound = new Map<number, number>();
  for (const v of metric.values) {
    if (v.metricName !== bucketName) continue;
    const le = v.labels.le;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byBound.set(bound, (byBound.get(bound) ?? 0) + v.value);
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((bound) => byBound.get(bound)!) };
}
