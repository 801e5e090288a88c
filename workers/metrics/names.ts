/**
 * The metric names and histogram buckets a worker exports on GET /metrics are vLLM's own, shared
 * with the orchestrator's reader.
 */
export {
  VLLM_E2E_BUCKETS_S,
  VLLM_ITL_BUCKETS_S,
  VLLM_METRICS,
  VLLM_TTFT_BUCKETS_S,
} from '../../common/openai/vllm-metric-names.ts';
