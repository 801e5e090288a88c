/** A worker's Prometheus metrics under vLLM's names. */
export {
  createWorkerMetrics,
  type RequestObserver,
  type WorkerMetrics,
  type WorkerMetricsOptions,
} from './worker-metrics.ts';
export { E2E_BUCKETS_S, ITL_BUCKETS_S, TTFT_BUCKETS_S, VLLM_METRICS } from './names.ts';
