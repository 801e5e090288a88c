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
