import type { Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import type { Readiness } from '../serving.ts';
import { createMetricWindow } from './metric-window.ts';
import type { PlannerFeed } from '../planner-feed/index.ts';
import { readCumulativeSample } from './read-metrics.ts';
import type { HistoryPoint, UiEvent, UiSnapshot, WorkerRow } from './types.ts';
import { poolSummaries } from './worker-rows.ts';

/**
 * The status page's data: every `intervalMs` one snapshot of the fleet (from `rows`), the
 * traffic (the orchestrator's own metrics, over the last `windowMs`) and the planner, pushed to
 * every subscriber, with the last `historyPoints` chart points kept for pages that open later.
 */
export interface UiFeed {
  /**
   * Calls `listener` with a `history` event (everything so far) as soon as there is a snapshot,
   * then a `snapshot` event per interval. Returns the unsubscribe function.
   */
  subscribe(listener: (event: UiEvent) => void): () => void;
  readonly subscribers: number;
  latest(): UiSnapshot | undefined;
  /** Stops sampling and tells every subscriber the feed ended (`onEnd`). */
  close(): void;
  /** Called once by close(), e.g. to end the open HTTP streams. */
  onEnd(listener: () => void): () => void;
  /** Samples now (tests; the loop calls it every interval). */
  tick(): Promise<void>;
}

export interface UiFeedOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The metrics to sample: this process's registry, or every serving process's aggregated (OrchestratorMetrics.view). */
  readonly registry: () => Promise<Registry>;
  readonly rows: () => readonly WorkerRow[];
  readonly readiness: () => Readiness;
  readonly model: string;
  readonly planner: PlannerFeed;
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly historyPoints: number;
}

export function createUiFeed(options: UiFeedOptions): UiFeed {
  const { clock } = options;
  const window = createMetricWindow(options.windowMs);
  const history: HistoryPoint[] = [];
  const listeners = new Map<(event: UiEvent) => void, { joined: boolean }>();
  const endListeners = new Set<() => void>();
  let latest: UiSnapshot | undefined;
  let closed = false;
  let ticking: Promise<void> | undefined;
  let cancelTimer: (() => void) | undefined;

  const deliver = (listener: (event: UiEvent) => void, event: UiEvent) => {
    try {
      listener(event);
    } catch (error) {
      options.logger.warn({ err: error }, 'a status-page subscriber failed');
    }
  };

  const sample = async () => {
    const now = clock.now();
    window.push(await readCumulativeSample(await options.registry(), now));
    const workers = options.rows();
    const traffic = window.figures();
    const planner = options.planner.view();
    const snapshot: UiSnapshot = {
      atMs: now,
      model: options.model,
      ready: options.readiness(),
      pools: poolSummaries(workers),
      workers,
      traffic,
      planner,
    };
    const healthy = (role: WorkerRow['role']) => workers.filter((w) => w.role === role && w.state === 'healthy').length;
    const point: HistoryPoint = {
      t: now,
      requestRate: traffic.requestRate,
      ttftP50: traffic.ttft?.p50 ?? null,
      ttftP90: traffic.ttft?.p90 ?? null,
      itlP50: traffic.itl?.p50 ?? null,
      itlP90: traffic.itl?.p90 ?? null,
      hitRate: traffic.hitRate,
      disaggregatedShare: traffic.disaggregatedShare,
      fleetPrefill: healthy('prefill'),
      fleetDecode: healthy('decode'),
      fleetBoth: healthy('both'),
      plannerPrefill: planner.decision?.prefillReplicas ?? null,
      plannerDecode: planner.decision?.decodeReplicas ?? null,
    };
    latest = snapshot;
    history.push(point);
    if (history.length > options.historyPoints) history.splice(0, history.length - options.historyPoints);
    for (const [listener, state] of listeners) {
      if (state.joined) deliver(listener, { type: 'snapshot', snapshot, point });
      else {
        state.joined = true;
        deliver(listener, { type: 'history', snapshot, points: [...history] });
      }
    }
  };

  const tick = () => {
    ticking ??= sample()
      .catch((error: unknown) => options.logger.warn({ err: error }, 'status-page sample failed'))
      .finally(() => (ticking = undefined));
    return ticking;
  };
  const loop = () => {
    if (closed) return;
    void tick().finally(() => {
      if (!closed) cancelTimer = clock.setTimer(options.intervalMs, loop);
    });
  };
  loop();

  return {
    subscribe(listener) {
      const state = { joined: false };
      listeners.set(listener, state);
      if (latest) {
        state.joined = true;
        deliver(listener, { type: 'history', snapshot: latest, points: [...history] });
      }
      return () => listeners.delete(listener);
    },
    get subscribers() {
      return listeners.size;
    },
    latest: () => latest,
    close() {
      if (closed) return;
      closed = true;
      cancelTimer?.();
      options.planner.close();
      listeners.clear();
      for (const listener of [...endListeners]) listener();
      endListeners.clear();
    },
    onEnd(listener) {
      endListeners.add(listener);
      return () => endListeners.delete(listener);
    },
    tick,
  };
}
