export {
  E2E_BUCKETS_S,
  ITL_BUCKETS_S,
  oneTwoFiveBuckets,
  ROUTER_DECISION_BUCKETS_S,
  TTFT_BUCKETS_S,
} from './buckets.ts';
export { CLUSTER_METRICS, DISCOVERY_METRICS, ORCHESTRATOR_METRICS, PLANNER_METRICS } from './names.ts';
export {
  createOrchestratorMetrics,
  type ModeLabel,
  type OrchestratorMetrics,
  type OrchestratorMetricsOptions,
  type RequestOutcome,
  type WorkerLoadSample,
  type WorkerRole,
  type WorkerStatusSample,
} from './orchestrator-metrics.ts';
