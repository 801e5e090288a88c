/**
 * vLLM's metric names (what a Tandem worker exports on GET /metrics and what the orchestrator
 * reads from a vLLM server's): vLLM's own (vllm/v1/metrics/loggers.py,
 * PROTOCOLS.md section 4), so anything that scrapes vLLM (llm-d's EPP, production-stack, the
 * orchestrator's vllm-http backend, Grafana dashboards) reads a Tandem worker unchanged. Every
 * series carries vLLM's labels `model_name` (the served model name) and `engine` (the
 * data-parallel rank, as a string). Counters end in _total; times are seconds of the worker's
 * clock (wall seconds: with --time-scale S they are model seconds / S, as a client sees them).
 */
export const VLLM_METRICS = {
  /** Gauge, requests in the running batch. */
  numRequestsRunning: 'vllm:num_requests_running',
  /** Gauge, requests queued, preempted, or pulling KV from a prefill worker. */
  numRequestsWaiting: 'vllm:num_requests_waiting',
  /** Gauge in [0, 1]: KV blocks in use (running requests and holds for remote decodes) / all blocks. */
  kvCacheUsagePerc: 'vllm:kv_cache_usage_perc',
  /** Counter, tokens looked up in the prefix cache (every admission, preempted ones again). */
  prefixCacheQueries: 'vllm:prefix_cache_queries_total',
  /** Counter, tokens those lookups found cached. */
  prefixCacheHits: 'vllm:prefix_cache_hits_total',
  /** Counter, prompt tokens of requests that sampled a token here. */
  promptTokens: 'vllm:prompt_tokens_total',
  /** Counter, tokens sampled. */
  generationTokens: 'vllm:generation_tokens_total',
  /** Counter, preemptions (a running request lost its blocks and is recomputed). */
  numPreemptions: 'vllm:num_preemptions_total',
  /** Counter, finished requests, label finished_reason = stop | length | abort. */
  requestSuccess: 'vllm:request_success_total',
  /** Histogram, seconds from arrival to the first token. */
  timeToFirstToken: 'vllm:time_to_first_token_seconds',
  /** Histogram, seconds between consecutive tokens of one request. */
  interTokenLatency: 'vllm:inter_token_latency_seconds',
  /** Histogram, seconds from arrival to the end of the request. */
  e2eRequestLatency: 'vllm:e2e_request_latency_seconds',
  /** Info gauge (always 1): labels block_size, num_gpu_blocks, enable_prefix_caching, cache_dtype. */
  cacheConfigInfo: 'vllm:cache_config_info',
  /** Gauge in [0, 1]: the name of kvCacheUsagePerc before vLLM ~0.10 (read as a fallback, never written). */
  gpuCacheUsagePercOld: 'vllm:gpu_cache_usage_perc',
  /** Gauge, Unix seconds: prometheus_client's process start (a changed value means a restarted server). */
  processStartTime: 'process_start_time_seconds',
} as const;

/** vLLM's histogram buckets (vllm/v1/metrics/loggers.py), seconds: time to first token. */
export const VLLM_TTFT_BUCKETS_S: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
];
/** vLLM's, seconds: inter-token latency. */
export const VLLM_ITL_BUCKETS_S: readonly number[] = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
/** vLLM's, seconds: end-to-end request latency. */
export const VLLM_E2E_BUCKETS_S: readonly number[] = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
];
