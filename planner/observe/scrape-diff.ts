import { ORCHESTRATOR_METRICS as M } from '../../orchestrator/metrics/names.ts';
import type { Distribution, Observation, PoolObservation } from '../types.ts';
import { diffDistribution, histogramQuantile, histogramShareBelow } from './histogram.ts';
import type { PromSample as Sample } from '../../common/prometheus-text.ts';

/** One scrape of the orchestrator's /metrics. */
export interface Scrape {
  /** When it was taken, clock ms. */
  readonly atMs: number;
  readonly samples: readonly Sample[];
}

/** How workers map to pools: by name prefix, else by role. */
export interface PoolAttribution {
  readonly name: string;
  readonly role: 'prefill' | 'decode';
  readonly workerPrefix: string | undefined;
}

/**
 * One Observation from two successive scrapes: counters and histograms are differenced (a
 * counter that went down was reset: its new value is the delta), gauges read from the later.
 * Rates are per second of the time between the scrapes. ISL/OSL means come from the length
 * histograms' _sum/_count (the token counters when those are absent); the hit rate is cached
 * over prompt tokens; TTFT/ITL percentiles and SLO attainment come from the bucket deltas.
 */
export function observationFromScrapes(
  previous: Scrape,
  current: Scrape,
  pools: readonly PoolAttribution[],
  slo: { ttftS: number; itlS: number },
): Observation {
  const seconds = Math.max(1e-3, (current.atMs - previous.atMs) / 1000);
  const delta = (name: string) => counterDelta(scrapedSum(current.samples, name), scrapedSum(previous.samples, name));
  const histogram = (name: string) => {
    const now = scrapedHistogram(current.samples, name);
    return now ? diffDistribution(now, scrapedHistogram(previous.samples, name)) : undefined;
  };

  const requests = delta(M.requests);
  const promptTokens = delta(M.promptTokens);
  const generated = delta(M.generationTokens);
  const islCount = delta(`${M.requestPromptTokens}_count`);
  const oslCount = delta(`${M.requestGenerationTokens}_count`);
  const islMean =
    islCount > 0 ? delta(`${M.requestPromptTokens}_sum`) / islCount : requests > 0 ? promptTokens / requests : 0;
  const oslMean =
    oslCount > 0 ? delta(`${M.requestGenerationTokens}_sum`) / oslCount : requests > 0 ? generated / requests : 0;
  const ttft = histogram(M.timeToFirstToken);
  const itl = histogram(M.interTokenLatency);

  return {
    atMs: current.atMs,
    intervalS: seconds,
    requestRate: requests / seconds,
    islMean,
    oslMean,
    prefixHitRate: promptTokens > 0 ? Math.min(1, delta(M.cachedPromptTokens) / promptTokens) : 0,
    isl: histogram(M.requestPromptTokens),
    osl: histogram(M.requestGenerationTokens),
    ttftP50S: ttft && histogramQuantile(ttft, 0.5),
    ttftP90S: ttft && histogramQuantile(ttft, 0.9),
    itlP50S: itl && histogramQuantile(itl, 0.5),
    itlP90S: itl && histogramQuantile(itl, 0.9),
    ttftAttainment: ttft && histogramShareBelow(ttft, slo.ttftS),
    itlAttainment: itl && histogramShareBelow(itl, slo.itlS),
    queueDepth: has(current.samples, M.queueDepth) ? scrapedSum(current.samples, M.queueDepth) : undefined,
    pools: poolGauges(current.samples, pools),
  };
}

/** Per-pool gauges (healthy workers, in flight, queued prefill, active KV) attributed by worker name or role. */
export function poolGauges(
  samples: readonly Sample[],
  pools: readonly PoolAttribution[],
): Record<string, PoolObservation> | undefined {
  const roles = new Map<string, string>(); // worker -> role
  for (const sample of samples) {
    if (
      (sample.name === M.workerHealthy || sample.name === M.workerInflightRequests) &&
      sample.labels.worker &&
      sample.labels.role
    )
      roles.set(sample.labels.worker, sample.labels.role);
  }
  if (roles.size === 0) return undefined;
  const poolOf = (worker: string): string | undefined => {
    const byPrefix = pools.find((pool) => pool.workerPrefix !== undefined && worker.startsWith(pool.workerPrefix));
    if (byPrefix) return byPrefix.name;
    const role = roles.get(worker);
    return pools.find((pool) => pool.workerPrefix === undefined && (pool.role === role || role === 'both'))?.name;
  };
  const out: Record<
    string,
    { replicas: number; inflightRequests: number; queuedPrefillTokens: number; activeKvBlocks: number }
  > = {};
  for (const pool of pools)
    out[pool.name] = { replicas: 0, inflightRequests: 0, queuedPrefillTokens: 0, activeKvBlocks: 0 };
  for (const sample of samples) {
    const worker = sample.labels.worker;
    if (worker === undefined) continue;
    const pool = poolOf(worker);
    const entry = pool === undefined ? undefined : out[pool];
    if (!entry || !Number.isFinite(sample.value)) continue;
    if (sample.name === M.workerHealthy) entry.replicas += sample.value >= 1 ? 1 : 0;
    else if (sample.name === M.workerInflightRequests) entry.inflightRequests += sample.value;
    else if (sample.name === M.workerQueuedPrefillTokens) entry.queuedPrefillTokens += sample.value;
    else if (sample.name === M.workerActiveKvBlocks) entry.activeKvBlocks += sample.value;
  }
  return out;
}

/** A histogram's buckets summed over every other label: cumulative counts by `le`. */
/** The cumulative histogram `name` in one scrape (its _bucket series summed over their other labels), or undefined. */
export function scrapedHistogram(samples: readonly Sample[], name: string): Distribution | undefined {
  const byBound = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${name}_bucket` || sample.labels.le === undefined) continue;
    const bound = sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le);
    if (Number.isNaN(bound)) continue;
    byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
  }
  if (byBound.size === 0) return undefined;
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, counts: bounds.map((bound) => byBound.get(bound)!) };
}

/** The sum of every series named `name` in one scrape (0 when absent). */
export function scrapedSum(samples: readonly Sample[], name: string): number {
  let total = 0;
  for (const sample of samples) if (sample.name === name && Number.isFinite(sample.value)) total += sample.value;
  return total;
}

function has(samples: readonly Sample[], name: string): boolean {
  return samples.some((sample) => sample.name === name);
}

/** Counters only grow; a drop means the process restarted and the new value is all that happened since. */
function counterDelta(current: number, previous: number): number {
  return current >= previous ? current - previous : current;
}
