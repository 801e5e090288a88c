import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../common/prometheus-text.ts';
import { readVllmMetrics } from './vllm-metrics.ts';

const view = (text: string) => {
  const parsed = parsePrometheusText(text);
  if (!parsed.ok) throw parsed.error;
  return readVllmMetrics(parsed.value);
};

describe("reading vLLM's /metrics", () => {
  it('reads running, waiting and KV usage per engine, summed over models, with block size and incarnation', () => {
    const v = view(
      [
        'process_start_time_seconds 1700000000.25',
        'vllm:num_requests_running{engine="0",model_name="a"} 2',
        'vllm:num_requests_running{engine="0",model_name="b"} 1',
        'vllm:num_requests_waiting{engine="0",model_name="a"} 4',
        'vllm:kv_cache_usage_perc{engine="0",model_name="a"} 0.3',
        'vllm:num_requests_running{engine="1",model_name="a"} 7',
        'vllm:cache_config_info{block_size="32",engine="0",num_gpu_blocks="500"} 1',
      ].join('\n'),
    );
    expect(v.blockSize).toBe(32);
    expect(v.engineId).toBe('vllm-started-1700000000.25');
    expect([...v.servedModels].sort()).toEqual(['a', 'b']);
    expect(v.kvUsageMetric).toBe('vllm:kv_cache_usage_perc');
    expect(v.load).toEqual([
      { dpRank: 0, report: { runningRequests: 3, waitingRequests: 4, kvUsage: 0.3, totalKvBlocks: 500 } },
      { dpRank: 1, report: { runningRequests: 7 } },
    ]);
  });

  it('prefers the current KV-usage name and falls back to vllm:gpu_cache_usage_perc', () => {
    const both = view('vllm:kv_cache_usage_perc 0.4\nvllm:gpu_cache_usage_perc 0.9\n');
    expect(both.load[0]?.report.kvUsage).toBe(0.4);
    const old = view('vllm:gpu_cache_usage_perc 0.9\nvllm:num_requests_running 1\n');
    expect(old.load[0]?.report.kvUsage).toBe(0.9);
    expect(old.kvUsageMetric).toBe('vllm:gpu_cache_usage_perc');
  });

  it('treats series without an engine label as rank 0 and reports nothing it did not see', () => {
    const v = view('vllm:num_requests_waiting 2\nsomething_else 1\n');
    expect(v.load).toEqual([{ dpRank: 0, report: { waitingRequests: 2 } }]);
    expect(v.blockSize).toBeNull();
    expect(v.engineId).toBeNull();
    expect(view('unrelated 1\n').load).toEqual([]);
  });
});
