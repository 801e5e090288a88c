import type { Registry } from 'prom-client';

/**
 * The IPC messages between the cluster primary and its serving processes (besides the sync
 * envelope of orchestrator/replica-sync/ipc-transport.ts). JSON over node:cluster's channel.
 */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

export type ToPrimary =
  /** The process listens at `url`. */
  | { readonly type: 'tandem:listening'; readonly url: string }
  /** Wants every process's metrics, for /metrics or the status page. */
  | { readonly type: 'tandem:metrics-req'; readonly id: number }
  /** Its own metrics, answering the primary's collect `id`. */
  | { readonly type: 'tandem:metrics-part'; readonly id: number; readonly metrics: MetricsJson };

export type ToServing =
  /** Send your metrics (answer with a metrics-part carrying `id`). */
  | { readonly type: 'tandem:metrics-collect'; readonly id: number }
  /** Every process's metrics (the primary's own included), answering metrics-req `id`; empty `error` when complete. */
  | {
      readonly type: 'tandem:metrics-res';
      readonly id: number;
      readonly parts: MetricsJson[];
      readonly error?: string;
    };

export const isMessage = <T extends { type: string }>(m: unknown, type: T['type']): m is T =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;

/** Environment a forked serving process reads. */
// Not TANDEM_*: those are config overrides.
export const CLUSTER_ENV = { group: 'ORCHESTRATOR_CLUSTER_GROUP', origin: 'ORCHESTRATOR_CLUSTER_ORIGIN' } as const;
