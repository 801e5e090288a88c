/** A worker's Prometheus metrics under vLLM's names. */
export {
  createWorkerMetrics,
  type LatencyObserver,
  type WorkerMetrics,
  type WorkerMetricsOptions,
} from './worker-metrics.ts';
export { VLLM_E2E_BUCKETS_S, VLLM_ITL_BUCKETS_S, VLLM_METRICS, VLLM_TTFT_BUCKETS_S } from './names.ts';
