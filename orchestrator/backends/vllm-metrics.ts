import type { WorkerReport } from '../load/index.ts';
import type { RankLoad } from './backend.ts';
import type { PromSample } from '../../common/prometheus-text.ts';
import { VLLM_METRICS } from '../../common/openai/vllm-metric-names.ts';

/**
 * What the orchestrator reads from a vLLM server's /metrics (PROTOCOLS.md section 4), current
 * names first, older ones as fallback:
 * - vllm:num_requests_running, vllm:num_requests_waiting (gauges, requests)
 * - vllm:kv_cache_usage_perc (0..1), before vLLM ~0.10 vllm:gpu_cache_usage_perc
 * - vllm:cache_config_info{block_size, num_gpu_blocks} (info gauge)
 * - process_start_time_seconds (prometheus_client's process collector) as the incarnation id
 * Series are split by the `engine` label (the data-parallel engine index; absent on engines
 * before it existed: rank 0) and summed over `model_name`.
 */
export interface VllmMetricsView {
  readonly blockSize: number | null;
  readonly totalBlocks: number | null;
  /** Changes when the server restarts; null when the process collector is off. */
  readonly engineId: string | null;
  readonly servedModels: readonly string[];
  readonly load: readonly RankLoad[];
  /** Which KV-usage name was read ("vllm:kv_cache_usage_perc" or the older one), or null. */
  readonly kvUsageMetric: string | null;
}

interface RankSums {
  running?: number;
  waiting?: number;
  kvUsage?: number;
  kvUsageOld?: number;
  totalBlocks?: number;
}

export function readVllmMetrics(samples: readonly PromSample[]): VllmMetricsView {
  const ranks = new Map<number, RankSums>();
  const rank = (labels: Readonly<Record<string, string>>): RankSums => {
    const parsed = Number(labels.engine ?? '0');
    const id = Number.isInteger(parsed) && parsed >= 0 ? parsed : 0;
    let sums = ranks.get(id);
    if (!sums) ranks.set(id, (sums = {}));
    return sums;
  };
  const add = (sums: RankSums, key: keyof RankSums, value: number) => {
    if (Number.isFinite(value)) sums[key] = (sums[key] ?? 0) + value;
  };
  let blockSize: number | null = null;
  let engineId: string | null = null;
  const models = new Set<string>();

  for (const s of samples) {
    if (s.labels.model_name) models.add(s.labels.model_name);
    switch (s.name) {
      case VLLM_METRICS.numRequestsRunning:
        add(rank(s.labels), 'running', s.value);
        break;
      case VLLM_METRICS.numRequestsWaiting:
        add(rank(s.labels), 'waiting', s.value);
        break;
      case VLLM_METRICS.kvCacheUsagePerc:
        add(rank(s.labels), 'kvUsage', s.value);
        break;
      case VLLM_METRICS.gpuCacheUsagePercOld:
        add(rank(s.labels), 'kvUsageOld', s.value);
        break;
      case VLLM_METRICS.cacheConfigInfo: {
        const size = Number(s.labels.block_size);
        if (Number.isInteger(size) && size > 0) blockSize = size;
        const blocks = Number(s.labels.num_gpu_blocks);
        if (Number.isInteger(blocks) && blocks > 0) rank(s.labels).totalBlocks = blocks;
        break;
      }
      case VLLM_METRICS.processStartTime:
        if (Number.isFinite(s.value)) engineId = `vllm-started-${s.value}`;
        break;
    }
  }

  let kvUsageMetric: string | null = null;
  let totalBlocks: number | null = null;
  const load: RankLoad[] = [...ranks.entries()]
    .sort(([a], [b]) => a - b)
    .map(([dpRank, sums]) => {
      const usage = sums.kvUsage ?? sums.kvUsageOld;
      if (usage !== undefined)
        kvUsageMetric ??=
          sums.kvUsage !== undefined ? VLLM_METRICS.kvCacheUsagePerc : VLLM_METRICS.gpuCacheUsagePercOld;
      if (sums.totalBlocks !== undefined) totalBlocks = (totalBlocks ?? 0) + sums.totalBlocks;
      const report: WorkerReport = {
        ...(sums.running === undefined ? {} : { runningRequests: sums.running }),
        ...(sums.waiting === undefined ? {} : { waitingRequests: sums.waiting }),
        ...(usage === undefined ? {} : { kvUsage: Math.min(1, Math.max(0, usage)) }),
        ...(sums.totalBlocks === undefined ? {} : { totalKvBlocks: sums.totalBlocks }),
      };
      return { dpRank, report };
    })
    // A rank known only from cache_config_info reports no load.
    .filter(
      (r) =>
        r.report.runningRequests !== undefined ||
        r.report.waitingRequests !== undefined ||
        r.report.kvUsage !== undefined,
    );

  return { blockSize, totalBlocks, engineId, servedModels: [...models], load, kvUsageMetric };
}
