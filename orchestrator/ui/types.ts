import type { PlannerView } from '../planner-feed/index.ts';

export type { PlannerDecisionView, PlannerView } from '../planner-feed/index.ts';

/**
 * The JSON the status page reads from GET /ui/events: one `UiSnapshot` per interval, and the
 * `HistoryPoint`s its charts plot. Times are Unix epoch milliseconds, latencies seconds, rates
 * per second, shares 0-1. A figure nothing measured yet is null (the page shows a dash).
 */

export interface WorkerRow {
  /** The routing tenant (`name`, or `name@rank` for data-parallel ranks past 0). */
  readonly name: string;
  readonly role: 'prefill' | 'decode' | 'both';
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  /** pending | healthy | ejected | block-size-mismatch | retiring. */
  readonly state: string;
  /** Running and waiting on the worker, as it last reported. */
  readonly running: number | null;
  readonly waiting: number | null;
  /** In flight as the router books it (corrected by the worker's reports). */
  readonly inflight: number;
  /** Share of its KV blocks held by running requests, as it last reported. */
  readonly kvUsage: number | null;
  /** Blocks the router's KV index holds for it (its prefix cache as the router sees it). */
  readonly cachedBlocks: number;
  /** Restarts the orchestrator noticed (its engine id changed). */
  readonly restarts: number;
}

export interface PoolSummary {
  readonly role: WorkerRow['role'];
  readonly workers: number;
  readonly healthy: number;
  readonly running: number;
  readonly waiting: number;
  /** Mean of the pool's reported KV usage, or null when none reported. */
  readonly kvUsage: number | null;
  readonly cachedBlocks: number;
}

export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface TrafficFigures {
  /** The window the figures cover, seconds (shorter right after start). */
  readonly windowS: number;
  /** Requests finished per second, any outcome. */
  readonly requestRate: number | null;
  /** Of them, failed or refused per second. */
  readonly errorRate: number | null;
  /** Generated tokens per second. */
  readonly outputTokensPerS: number | null;
  readonly ttft: LatencyPercentiles | null;
  readonly itl: LatencyPercentiles | null;
  /** Cached prompt tokens / prompt tokens of the requests finished in the window. */
  readonly hitRate: number | null;
  /** Disaggregated / routed requests finished in the window. */
  readonly disaggregatedShare: number | null;
  /** Requests waiting for a worker with room now. */
  readonly queueDepth: number;
}

export interface UiSnapshot {
  readonly atMs: number;
  readonly model: string;
  readonly ready: { readonly ready: boolean; readonly detail: string };
  readonly pools: readonly PoolSummary[];
  readonly workers: readonly WorkerRow[];
  readonly traffic: TrafficFigures;
  readonly planner: PlannerView;
}

/** One point of every chart. */
export interface HistoryPoint {
  readonly t: number;
  readonly requestRate: number | null;
  readonly ttftP50: number | null;
  readonly ttftP90: number | null;
  readonly itlP50: number | null;
  readonly itlP90: number | null;
  readonly hitRate: number | null;
  readonly disaggregatedShare: number | null;
  /** Healthy workers by role now. */
  readonly fleetPrefill: number;
  readonly fleetDecode: number;
  readonly fleetBoth: number;
  /** The planner's last decision, or null without one. */
  readonly plannerPrefill: number | null;
  readonly plannerDecode: number | null;
}

/** What GET /ui/events sends: everything so far on connect, then one point per interval. */
export type UiEvent =
  | { readonly type: 'history'; readonly snapshot: UiSnapshot; readonly points: readonly HistoryPoint[] }
  | { readonly type: 'snapshot'; readonly snapshot: UiSnapshot; readonly point: HistoryPoint };
