/**
 * The planner's plain data: what it observed, what it predicts, and what it decided. Every
 * source (scrape diff, Prometheus query, JSON file, the cluster simulator) produces an
 * Observation; the core never sees where it came from.
 */

/** A cumulative histogram: `counts[i]` observations were <= `bounds[i]` (the last bound may be Infinity). */
export interface Distribution {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
}

/** What one pool looked like at the end of the interval (sums over its workers). */
export interface PoolObservation {
  /** Healthy workers. */
  readonly replicas: number;
  /** Requests in flight, as booked by the router. */
  readonly inflightRequests: number;
  /** Prompt tokens routed and not yet prefilled, tokens. */
  readonly queuedPrefillTokens: number;
  /** KV blocks held by running decodes. */
  readonly activeKvBlocks: number;
}

/** One interval of traffic as seen by the orchestrator. */
export interface Observation {
  /** End of the interval, clock milliseconds. */
  readonly atMs: number;
  /** Length of the interval, seconds. */
  readonly intervalS: number;
  /** Arrivals, requests/s. */
  readonly requestRate: number;
  /** Mean input (prompt) length, tokens. */
  readonly islMean: number;
  /** Mean output length, tokens. */
  readonly oslMean: number;
  /** Share of prompt tokens served from a prefix cache, 0-1; prefill work left is isl * (1 - hit). */
  readonly prefixHitRate: number;
  readonly isl?: Distribution | undefined;
  readonly osl?: Distribution | undefined;
  /** Observed latency percentiles, seconds. */
  readonly ttftP50S?: number | undefined;
  readonly ttftP90S?: number | undefined;
  readonly itlP50S?: number | undefined;
  readonly itlP90S?: number | undefined;
  /** Share of requests whose TTFT / ITL met the SLO, 0-1, when the histogram allows saying. */
  readonly ttftAttainment?: number | undefined;
  readonly itlAttainment?: number | undefined;
  /** Requests waiting in the orchestrator's admission queue. */
  readonly queueDepth?: number | undefined;
  /** Per pool (by pool name) or per role ("prefill", "decode") when pools cannot be told apart. */
  readonly pools?: Readonly<Record<string, PoolObservation>> | undefined;
}

/** The load the next interval is expected to carry. */
export interface LoadForecast {
  /** Requests/s. */
  readonly requestRate: number;
  /** Tokens. */
  readonly islMean: number;
  readonly oslMean: number;
  /** 0-1. */
  readonly prefixHitRate: number;
  /** Prompt-length distribution, when observed (used to split disaggregated from local prefill). */
  readonly isl?: Distribution | undefined;
}

export type PoolRole = 'prefill' | 'decode';

/** What the planner decided for one pool. */
export interface PoolDecision {
  readonly name: string;
  readonly role: PoolRole;
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  /** The replicas to run now, after stability rules, min/max and the GPU budget. */
  readonly replicas: number;
  /** What sizing alone asked for this interval (integer, within min/max and the budget). */
  readonly recommended: number;
  /** Fractional replicas the predicted load needs (work / one replica's capacity). */
  readonly demand: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

export interface Decision {
  /** Clock milliseconds when it was made. */
  readonly atMs: number;
  readonly pools: readonly PoolDecision[];
  /** Totals over the pools of each role. */
  readonly prefillReplicas: number;
  readonly decodeReplicas: number;
  /** GPUs the decision holds (replicas x tp summed). */
  readonly gpus: number;
  /** Disaggregate a request when its uncached prompt tokens exceed this. */
  readonly disaggregationThresholdTokens: number;
  readonly predicted: LoadForecast;
  readonly observed: Observation | undefined;
  /** One line per rule that shaped the decision, in the order they applied. */
  readonly reasons: readonly string[];
}
