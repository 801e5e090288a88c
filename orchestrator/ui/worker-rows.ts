import type { WorkerSnapshot } from '../discovery/index.ts';
import type { WorkerStatusSample } from '../metrics/index.ts';
import type { PoolSummary, WorkerRow } from './types.ts';

/**
 * The fleet as the page and the status gauges show it: one row per routing tenant (a worker, or
 * one data-parallel rank of it) from the fleet's snapshot, and one summary per role. Pure.
 */
export function workerRows(snapshots: readonly WorkerSnapshot[]): WorkerRow[] {
  const rows: WorkerRow[] = [];
  for (const worker of snapshots) {
    for (const rank of worker.ranks) {
      const r = rank as RankView;
      const reported = r.reported ?? null;
      const kvUsage = reportedKvUsage(reported);
      rows.push({
        name: typeof r.tenant === 'string' ? r.tenant : worker.name,
        role: worker.role,
        gpu: worker.profile.gpu,
        model: worker.profile.model,
        tp: worker.profile.tp,
        state: worker.state,
        running: numberOrNull(reported?.runningRequests),
        waiting: numberOrNull(reported?.waitingRequests),
        inflight: numberOrNull(r.load?.inflightRequests) ?? 0,
        kvUsage,
        cachedBlocks: numberOrNull(r.indexedBlocks) ?? 0,
        restarts: worker.restarts,
      });
    }
  }
  return rows;
}

const ROLES = ['prefill', 'decode', 'both'] as const;

/** One summary per role present in the fleet, prefill first. */
export function poolSummaries(rows: readonly WorkerRow[]): PoolSummary[] {
  return ROLES.flatMap((role) => {
    const members = rows.filter((row) => row.role === role);
    if (members.length === 0) return [];
    const usages = members.map((row) => row.kvUsage).filter((value): value is number => value !== null);
    const sum = (pick: (row: WorkerRow) => number | null) =>
      members.reduce((total, row) => total + (pick(row) ?? 0), 0);
    return [
      {
        role,
        workers: members.length,
        healthy: members.filter((row) => row.state === 'healthy').length,
        running: sum((row) => row.running),
        waiting: sum((row) => row.waiting),
        kvUsage: usages.length === 0 ? null : usages.reduce((a, b) => a + b, 0) / usages.length,
        cachedBlocks: sum((row) => row.cachedBlocks),
      },
    ];
  });
}

/** Rows as the tandem_worker_{running,waiting}_requests and tandem_worker_kv_usage gauges read them. */
export function statusSamples(rows: readonly WorkerRow[]): WorkerStatusSample[] {
  return rows.map((row) => ({
    worker: row.name,
    role: row.role,
    runningRequests: row.running,
    waitingRequests: row.waiting,
    kvUsage: row.kvUsage,
  }));
}

/** The fields of WorkerSnapshot.ranks[] read here (the snapshot types them as unknown). */
interface RankView {
  readonly tenant?: unknown;
  readonly load?: { readonly inflightRequests?: unknown };
  readonly indexedBlocks?: unknown;
  readonly reported?: {
    readonly runningRequests?: unknown;
    readonly waitingRequests?: unknown;
    readonly activeKvBlocks?: unknown;
    readonly kvUsage?: unknown;
    readonly totalKvBlocks?: unknown;
  } | null;
}

/** KV usage 0-1: reported directly (vLLM), or active / total blocks (Tandem workers). */
function reportedKvUsage(reported: RankView['reported']): number | null {
  if (!reported) return null;
  const direct = numberOrNull(reported.kvUsage);
  if (direct !== null) return clamp01(direct);
  const active = numberOrNull(reported.activeKvBlocks);
  const total = numberOrNull(reported.totalKvBlocks);
  return active !== null && total !== null && total > 0 ? clamp01(active / total) : null;
}

const clamp01 = (value: number) => Math.min(1, Math.max(0, value));
const numberOrNull = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;
