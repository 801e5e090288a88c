import { Registry } from 'prom-client';
import { declareMetrics } from '../../common/metric-table.ts';
import { PLANNER_METRICS } from '../../orchestrator/metrics/names.ts';
import type { DecisionBoard } from './board.ts';

/**
 * The planner's own /metrics: desired replicas per pool (what prometheus-adapter serves to an
 * HPA with an AverageValue: 1 target), the predicted request rate and the recommended threshold.
 * Values are read from the board at scrape time. With `exportDesired` false (dry run) the
 * desired-replicas series are left out, so nothing scales from them.
 */
export function createPlannerRegistry(board: DecisionBoard, options: { exportDesired: boolean }): Registry {
  const registry = new Registry();
  declareMetrics([registry], {
    desiredReplicas: {
      kind: 'gauge',
      name: PLANNER_METRICS.desiredReplicas,
      help: 'Replicas the planner wants for the pool (HPA external metric, AverageValue target 1).',
      labels: ['pool', 'role'],
      read: () => {
        const decision = board.latest();
        if (!decision || !options.exportDesired) return [];
        return decision.pools.map((pool) => ({ labels: { pool: pool.name, role: pool.role }, value: pool.replicas }));
      },
    },
    predictedRequestRate: {
      kind: 'gauge',
      name: PLANNER_METRICS.predictedRequestRate,
      help: 'Request rate the planner predicts for the next interval, requests/s.',
      read: () => board.latest()?.predicted.requestRate,
    },
    disaggregationThreshold: {
      kind: 'gauge',
      name: PLANNER_METRICS.disaggregationThreshold,
      help: 'Recommended disaggregation threshold: uncached prompt tokens above which prefill goes remote.',
      read: () => board.latest()?.disaggregationThresholdTokens,
    },
  });
  return registry;
}
