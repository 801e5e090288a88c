import { Gauge, Registry } from 'prom-client';
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
  new Gauge({
    name: PLANNER_METRICS.desiredReplicas,
    help: 'Replicas the planner wants for the pool (HPA external metric, AverageValue target 1).',
    labelNames: ['pool', 'role'],
    registers: [registry],
    collect() {
      this.reset();
      const decision = board.latest();
      if (!decision || !options.exportDesired) return;
      for (const pool of decision.pools) this.set({ pool: pool.name, role: pool.role }, pool.replicas);
    },
  });
  new Gauge({
    name: PLANNER_METRICS.predictedRequestRate,
    help: 'Request rate the planner predicts for the next interval, requests/s.',
    registers: [registry],
    collect() {
      const decision = board.latest();
      if (decision) this.set(decision.predicted.requestRate);
    },
  });
  new Gauge({
    name: PLANNER_METRICS.disaggregationThreshold,
    help: 'Recommended disaggregation threshold: uncached prompt tokens above which prefill goes remote.',
    registers: [registry],
    collect() {
      const decision = board.latest();
      if (decision) this.set(decision.disaggregationThresholdTokens);
    },
  });
  return registry;
}
