import { Registry } from 'prom-client';
import type { Clock } from '../../common/clock.ts';
import { declareMetrics } from '../../common/metric-table.ts';
import type { EngineInfo, EngineStatus, FinishReason } from '../engine/engine-api.ts';
import { VLLM_E2E_BUCKETS_S, VLLM_ITL_BUCKETS_S, VLLM_METRICS as N, VLLM_TTFT_BUCKETS_S } from './names.ts';

/**
 * A worker's Prometheus metrics under vLLM's names. Load and cache figures are read from the
 * engine's status at scrape time (so they cover every request, whichever API brought it); the
 * latency histograms and finished-request counts are recorded per request by the gRPC service
 * and the HTTP facade through `startRequest`.
 */
export interface WorkerMetrics {
  readonly registry: Registry;
  /** Content-Type of `render()`'s text. */
  readonly contentType: string;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  /** Starts observing one request that arrived at `arrivalMs` (clock ms; default now). */
  startRequest(arrivalMs?: number): LatencyObserver;
}

/** One request's latency record. Calls after `finish` are ignored. */
export interface LatencyObserver {
  /** `count` tokens arrived now: the first arrival is the TTFT, later ones one inter-token gap each. */
  tokens(count: number): void;
  /** The request ended: counts it under vLLM's finished_reason and records its end-to-end time. */
  finish(reason: FinishReason): void;
}

export interface WorkerMetricsOptions {
  readonly info: EngineInfo;
  readonly status: () => EngineStatus;
  /** The `model_name` label: the served model name. */
  readonly modelName: string;
  readonly clock: Clock;
}

export function createWorkerMetrics(options: WorkerMetricsOptions): WorkerMetrics {
  const { info, status, clock } = options;
  const registry = new Registry();
  registry.setDefaultLabels({ model_name: options.modelName, engine: String(info.dataParallelRank) });
  // One status() per render(), shared by every collector of that scrape (a consistent view).
  let snapshot: EngineStatus | undefined;
  const current = (): EngineStatus => snapshot ?? status();
  // Read from the engine at scrape time; its counters are running totals, exposed as they are.
  const m = declareMetrics([registry], {
    running: {
      kind: 'gauge',
      name: N.numRequestsRunning,
      help: 'Number of requests in model execution batches.',
      read: () => current().runningRequests,
    },
    waiting: {
      kind: 'gauge',
      name: N.numRequestsWaiting,
      help: 'Number of requests waiting to be processed.',
      read: () => current().waitingRequests,
    },
    kvUsage: {
      kind: 'gauge',
      name: N.kvCacheUsagePerc,
      help: 'KV-cache usage. 1 means 100 percent usage.',
      read: () => current().kvCacheUsage,
    },
    cacheQueries: {
      kind: 'counter',
      name: N.prefixCacheQueries,
      help: 'Prefix cache queries, in terms of number of queried tokens.',
      read: () => current().prefixCacheQueriesTokens,
    },
    cacheHits: {
      kind: 'counter',
      name: N.prefixCacheHits,
      help: 'Prefix cache hits, in terms of number of cached tokens.',
      read: () => current().prefixCacheHitsTokens,
    },
    promptTokens: {
      kind: 'counter',
      name: N.promptTokens,
      help: 'Number of prefill tokens processed.',
      read: () => current().promptTokensTotal,
    },
    generationTokens: {
      kind: 'counter',
      name: N.generationTokens,
      help: 'Number of generation tokens processed.',
      read: () => current().generationTokensTotal,
    },
    preemptions: {
      kind: 'counter',
      name: N.numPreemptions,
      help: 'Cumulative number of preemption from the engine.',
      read: () => current().preemptionsTotal,
    },
    cacheConfig: {
      kind: 'gauge',
      name: N.cacheConfigInfo,
      help: 'Information of the LLMEngine CacheConfig.',
      labels: ['block_size', 'num_gpu_blocks', 'enable_prefix_caching', 'cache_dtype'],
    },
    success: {
      kind: 'counter',
      name: N.requestSuccess,
      help: 'Count of successfully processed requests.',
      labels: ['finished_reason'],
    },
    ttft: {
      kind: 'histogram',
      name: N.timeToFirstToken,
      help: 'Histogram of time to first token in seconds.',
      buckets: VLLM_TTFT_BUCKETS_S,
    },
    itl: {
      kind: 'histogram',
      name: N.interTokenLatency,
      help: 'Histogram of inter-token latency in seconds.',
      buckets: VLLM_ITL_BUCKETS_S,
    },
    e2e: {
      kind: 'histogram',
      name: N.e2eRequestLatency,
      help: 'Histogram of e2e request latency in seconds.',
      buckets: VLLM_E2E_BUCKETS_S,
    },
  });
  m.cacheConfig.set(
    {
      block_size: String(info.blockSize),
      num_gpu_blocks: String(info.totalBlocks),
      enable_prefix_caching: info.prefixCaching ? 'True' : 'False',
      cache_dtype: 'auto',
    },
    1,
  );
  // Present from the start, as vLLM's are, so rate() works before the first request of a kind.
  for (const reason of ['stop', 'length', 'abort'] as const) m.success.inc({ finished_reason: reason }, 0);

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      snapshot = status();
      try {
        return await registry.metrics();
      } finally {
        snapshot = undefined;
      }
    },
    startRequest(arrivalMs = clock.now()) {
      let lastTokenMs: number | undefined;
      let done = false;
      return {
        tokens(count) {
          if (done || count <= 0) return;
          const now = clock.now();
          if (lastTokenMs === undefined) m.ttft.observe(Math.max(0, now - arrivalMs) / 1000);
          else m.itl.observe(Math.max(0, now - lastTokenMs) / 1000);
          lastTokenMs = now;
        },
        finish(reason) {
          if (done) return;
          done = true;
          m.success.inc({ finished_reason: reason });
          m.e2e.observe(Math.max(0, clock.now() - arrivalMs) / 1000);
        },
      };
    },
  };
}
