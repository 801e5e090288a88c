import type { Distribution, Observation, PoolObservation } from '../../planner/index.ts';
import type { BenchRequest } from '../workloads/index.ts';

/**
 * What the orchestrator's metrics would show the planner over one interval, gathered from the
 * simulated request path: arrivals (rate, prompt lengths and their histogram), completions
 * (output lengths, prefix-cache hits) and first tokens (TTFT percentiles and SLO attainment).
 */
export interface IntervalStats {
  arrival(request: BenchRequest): void;
  firstToken(request: BenchRequest, ttftMs: number): void;
  completed(request: BenchRequest, ok: boolean, outputTokens: number, cachedPromptTokens: number | undefined): void;
  /** The interval ending at `atMs` as an Observation; starts the next interval. */
  take(atMs: number, intervalS: number, pools: Readonly<Record<string, PoolObservation>>): Observation;
}

/** Prompt-length histogram bounds, tokens (the planner splits requests at its threshold with it). */
const ISL_BOUNDS = [128, 256, 512, 1024, 2048, 4096, 6144, 8192, 12288, 16384, 24576, 32768, Number.POSITIVE_INFINITY];

export function createIntervalStats(slo: { readonly ttftMs: number }): IntervalStats {
  let arrivals = 0;
  let islSum = 0;
  let islCounts = new Array<number>(ISL_BOUNDS.length).fill(0);
  let completed = 0;
  let oslSum = 0;
  let promptTokens = 0;
  let cachedTokens = 0;
  let ttfts: number[] = [];
  /** Last values, kept across empty intervals (no arrival says nothing about lengths). */
  let lastIsl = 0;
  let lastOsl = 0;
  let lastHit = 0;

  return {
    arrival(request) {
      arrivals++;
      const isl = request.promptTokenIds.length;
      islSum += isl;
      let i = 0;
      while (isl > ISL_BOUNDS[i]!) i++;
      islCounts[i]!++;
    },
    firstToken(_request, ttftMs) {
      ttfts.push(ttftMs);
    },
    completed(request, ok, outputTokens, cachedPromptTokens) {
      if (!ok) return;
      completed++;
      oslSum += outputTokens;
      if (cachedPromptTokens !== undefined) {
        promptTokens += request.promptTokenIds.length;
        cachedTokens += cachedPromptTokens;
      }
    },
    take(atMs, intervalS, pools) {
      if (arrivals > 0) lastIsl = islSum / arrivals;
      if (completed > 0) lastOsl = oslSum / completed;
      if (promptTokens > 0) lastHit = cachedTokens / promptTokens;
      let running = 0;
      const isl: Distribution = { bounds: ISL_BOUNDS, counts: islCounts.map((n) => (running += n)) };
      ttfts.sort((a, b) => a - b);
      const quantile = (q: number) =>
        ttfts.length === 0 ? undefined : ttfts[Math.min(ttfts.length - 1, Math.floor(q * ttfts.length))]! / 1000;
      const observation: Observation = {
        atMs,
        intervalS,
        requestRate: arrivals / intervalS,
        islMean: lastIsl,
        oslMean: lastOsl,
        prefixHitRate: lastHit,
        isl: arrivals > 0 ? isl : undefined,
        ttftP50S: quantile(0.5),
        ttftP90S: quantile(0.9),
        ttftAttainment: ttfts.length === 0 ? undefined : ttfts.filter((t) => t <= slo.ttftMs).length / ttfts.length,
        pools,
      };
      arrivals = 0;
      islSum = 0;
      islCounts = new Array<number>(ISL_BOUNDS.length).fill(0);
      completed = 0;
      oslSum = 0;
      promptTokens = 0;
      cachedTokens = 0;
      ttfts = [];
      return observation;
    },
  };
}
