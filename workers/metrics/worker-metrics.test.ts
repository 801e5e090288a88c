import { describe, expect, it } from 'vitest';
import { sample, samples } from '../../test/fakes/metric-sample.ts';
import { createVirtualClock } from '../../common/clock.ts';
import type { EngineInfo, EngineStatus } from '../engine/engine-api.ts';
import { createWorkerMetrics } from './worker-metrics.ts';

const info = { blockSize: 16, totalBlocks: 1000, prefixCaching: true, dataParallelRank: 2 } as EngineInfo;
const status = (patch: Partial<EngineStatus> = {}): EngineStatus =>
  ({
    runningRequests: 3,
    waitingRequests: 4,
    kvCacheUsage: 0.25,
    prefixCacheQueriesTokens: 1000,
    prefixCacheHitsTokens: 600,
    promptTokensTotal: 1200,
    generationTokensTotal: 345,
    preemptionsTotal: 2,
    ...patch,
  }) as EngineStatus;

describe('worker metrics under vLLM names', () => {
  it('reads load and cache counters from the engine at scrape time, labelled with model and engine', async () => {
    let current = status();
    const metrics = createWorkerMetrics({
      info,
      status: () => current,
      modelName: 'Qwen/Qwen3-8B',
      clock: createVirtualClock(),
    });
    let text = await metrics.render();
    const expected = {
      'vllm:num_requests_running{model_name="Qwen/Qwen3-8B",engine="2"}': 3,
      'vllm:num_requests_waiting': 4,
      'vllm:kv_cache_usage_perc': 0.25,
      'vllm:prefix_cache_queries_total': 1000,
      'vllm:prefix_cache_hits_total': 600,
      'vllm:prompt_tokens_total': 1200,
      'vllm:generation_tokens_total': 345,
      'vllm:num_preemptions_total': 2,
    };
    expect(samples(text, Object.keys(expected))).toEqual(expected);
    expect(text).toContain(
      'vllm:cache_config_info{block_size="16",num_gpu_blocks="1000",enable_prefix_caching="True",cache_dtype="auto",model_name="Qwen/Qwen3-8B",engine="2"} 1',
    );
    current = status({ runningRequests: 0, generationTokensTotal: 400 });
    text = await metrics.render();
    expect(samples(text, ['vllm:num_requests_running', 'vllm:generation_tokens_total'])).toEqual({
      'vllm:num_requests_running': 0,
      'vllm:generation_tokens_total': 400,
    });
  });

  it('records TTFT from arrival, one inter-token gap per later arrival, and the finish reason once', async () => {
    const clock = createVirtualClock(10_000);
    const metrics = createWorkerMetrics({ info, status: () => status(), modelName: 'm', clock });
    const request = metrics.startRequest();
    clock.advance(250);
    request.tokens(1);
    clock.advance(20);
    request.tokens(1);
    clock.advance(30);
    request.tokens(2);
    request.tokens(0);
    request.finish('length');
    request.finish('abort');
    request.tokens(1);
    const text = await metrics.render();
    const counts = {
      'vllm:time_to_first_token_seconds_count': 1,
      'vllm:inter_token_latency_seconds_count': 2,
      'vllm:request_success_total{finished_reason="length"}': 1,
      'vllm:request_success_total{finished_reason="abort"}': 0,
      'vllm:request_success_total{finished_reason="stop"}': 0,
    };
    expect(samples(text, Object.keys(counts))).toEqual(counts);
    expect(sample(text, 'vllm:time_to_first_token_seconds_sum')).toBeCloseTo(0.25, 9);
    expect(sample(text, 'vllm:inter_token_latency_seconds_sum')).toBeCloseTo(0.05, 9);
    expect(sample(text, 'vllm:e2e_request_latency_seconds_sum')).toBeCloseTo(0.3, 9);
  });
});
