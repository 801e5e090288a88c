import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../../common/prometheus-text.ts';
import { sample, samples } from '../../test/fakes/metric-sample.ts';
import { oneTwoFiveBuckets } from './buckets.ts';
import { ORCHESTRATOR_METRICS } from './names.ts';
import { createOrchestratorMetrics, type WorkerStatusSample } from './orchestrator-metrics.ts';

describe('orchestrator metrics', () => {
  it('registers every name in ORCHESTRATOR_METRICS with its Prometheus type', async () => {
    const text = await createOrchestratorMetrics().render();
    const types: Record<keyof typeof ORCHESTRATOR_METRICS, 'counter' | 'gauge' | 'histogram'> = {
      requests: 'counter',
      timeToFirstToken: 'histogram',
      interTokenLatency: 'histogram',
      e2eLatency: 'histogram',
      promptTokens: 'counter',
      cachedPromptTokens: 'counter',
      generationTokens: 'counter',
      requestPromptTokens: 'histogram',
      requestGenerationTokens: 'histogram',
      routerDecision: 'histogram',
      workerInflightRequests: 'gauge',
      workerQueuedPrefillTokens: 'gauge',
      workerActiveKvBlocks: 'gauge',
      workerIndexedBlocks: 'gauge',
      workerHealthy: 'gauge',
      workerBlockSizeMismatch: 'gauge',
      chatTemplateChecks: 'counter',
      kvEventsApplied: 'counter',
      kvEventGaps: 'counter',
      kvTransferBlocks: 'counter',
      kvTransferBytes: 'counter',
      queueDepth: 'gauge',
      eventLoopLag: 'gauge',
      loadShed: 'counter',
      clientWriteTimeouts: 'counter',
      bodyRefusal: 'histogram',
      workerRunningRequests: 'gauge',
      workerWaitingRequests: 'gauge',
      workerKvUsage: 'gauge',
      replicaSyncConnected: 'gauge',
      replicaSyncMessages: 'counter',
      replicaSyncPeers: 'gauge',
      replicaSyncRemoteBookings: 'gauge',
    };
    for (const [key, name] of Object.entries(ORCHESTRATOR_METRICS)) {
      expect(text, name).toContain(`# TYPE ${name} ${types[key as keyof typeof types]}`);
    }
  });

  it('records requests, latencies and tokens under their labels', async () => {
    const metrics = createOrchestratorMetrics();
    metrics.countRequest('success', 'aggregated');
    metrics.countRequest('success', 'aggregated');
    metrics.countRequest('rejected', 'none');
    metrics.observeTimeToFirstToken('disaggregated', 0.3);
    metrics.recordRequestTokens({ promptTokens: 100, cachedPromptTokens: 64, generationTokens: 7 });
    metrics.recordRequestTokens({ promptTokens: 50, cachedPromptTokens: 0, generationTokens: 3 });
    metrics.setQueueDepth(5);
    const expected = {
      'tandem_requests_total{outcome="success",mode="aggregated"}': 2,
      'tandem_requests_total{outcome="rejected",mode="none"}': 1,
      'tandem_time_to_first_token_seconds_bucket{le="0.25",mode="disaggregated"}': 0,
      'tandem_time_to_first_token_seconds_bucket{le="0.5",mode="disaggregated"}': 1,
      tandem_prompt_tokens_total: 150,
      tandem_cached_prompt_tokens_total: 64,
      tandem_generation_tokens_total: 10,
      tandem_request_prompt_tokens_count: 2,
      tandem_queue_depth: 5,
    };
    expect(samples(await metrics.render(), Object.keys(expected))).toEqual(expected);
  });

  it("reads the workers' reported figures at each scrape, so departed workers leave no series", async () => {
    const metrics = createOrchestratorMetrics();
    let fleet: WorkerStatusSample[] = [
      { worker: 'prefill-0', role: 'prefill', runningRequests: 3, waitingRequests: 1, kvUsage: 0.25 },
      { worker: 'decode-0', role: 'decode', runningRequests: 7, waitingRequests: null, kvUsage: null },
    ];
    metrics.readWorkerStatusFrom(() => fleet);
    const series = [
      'tandem_worker_running_requests{worker="prefill-0",role="prefill"}',
      'tandem_worker_waiting_requests{worker="prefill-0",role="prefill"}',
      'tandem_worker_kv_usage{worker="prefill-0",role="prefill"}',
      'tandem_worker_running_requests{worker="decode-0",role="decode"}',
      'tandem_worker_kv_usage{worker="decode-0",role="decode"}',
    ];
    expect(Object.values(samples(await metrics.render(), series))).toEqual([
      3,
      1,
      0.25,
      7,
      // Not reported: no series rather than a made-up zero.
      undefined,
    ]);
    fleet = [{ worker: 'decode-0', role: 'decode', runningRequests: 2, waitingRequests: 0, kvUsage: 0.5 }];
    expect(Object.values(samples(await metrics.render(), series))).toEqual([undefined, undefined, undefined, 2, 0.5]);
  });

  it('drops every series of a removed worker and keeps the others', async () => {
    const metrics = createOrchestratorMetrics();
    for (const worker of ['w1', 'w2']) {
      metrics.setWorkerLoad(worker, 'decode', { inflightRequests: 3, queuedPrefillTokens: 128, activeKvBlocks: 40 });
      metrics.setWorkerHealthy(worker, 'decode', true);
      metrics.setWorkerIndexedBlocks(worker, 1000);
      metrics.countKvEventBatches(worker, 2);
      metrics.countKvEventGap(worker);
    }
    metrics.removeWorker('w1');
    const text = await metrics.render();
    expect(text).not.toContain('worker="w1"');
    expect(sample(text, 'tandem_worker_inflight_requests{worker="w2",role="decode"}')).toBe(3);
    expect(sample(text, 'tandem_kv_events_applied_total{worker="w2"}')).toBe(2);
  });

  it("shows each worker's booked load as last set, at every scrape, per role for in-flight requests", async () => {
    const metrics = createOrchestratorMetrics();
    metrics.setWorkerLoad('w1', 'prefill', { inflightRequests: 1, queuedPrefillTokens: 500, activeKvBlocks: 0 });
    metrics.setWorkerLoad('w1', 'decode', { inflightRequests: 2, queuedPrefillTokens: 0, activeKvBlocks: 30 });
    let text = await metrics.render();
    expect(sample(text, 'tandem_worker_inflight_requests{worker="w1",role="prefill"}')).toBe(1);
    expect(sample(text, 'tandem_worker_inflight_requests{worker="w1",role="decode"}')).toBe(2);
    expect(sample(text, 'tandem_worker_queued_prefill_tokens{worker="w1"}')).toBe(0);
    expect(sample(text, 'tandem_worker_active_kv_blocks{worker="w1"}')).toBe(30);
    metrics.setWorkerLoad('w1', 'decode', { inflightRequests: 0, queuedPrefillTokens: 0, activeKvBlocks: 0 });
    text = await metrics.render();
    expect(sample(text, 'tandem_worker_inflight_requests{worker="w1",role="decode"}')).toBe(0);
    expect(sample(text, 'tandem_worker_active_kv_blocks{worker="w1"}')).toBe(0);
  });

  it('builds 1-2-5 token buckets that reach the context length', () => {
    expect(oneTwoFiveBuckets(32768)).toEqual([
      1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000,
    ]);
    expect(oneTwoFiveBuckets(1)).toEqual([1]);
  });

  it("renders text the planner's scrape parses, process metrics included (a lag with no samples is NaN)", async () => {
    const metrics = createOrchestratorMetrics({ processMetrics: true });
    for (const text of [await metrics.render(), await metrics.render()]) {
      const parsed = parsePrometheusText(text);
      expect(parsed.ok ? 'parses' : parsed.error.message).toBe('parses');
    }
  });

  it('keeps two instances apart (each has its own registry)', async () => {
    const a = createOrchestratorMetrics();
    const b = createOrchestratorMetrics();
    a.countRequest('error', 'aggregated');
    expect(sample(await b.render(), 'tandem_requests_total{outcome="error",mode="aggregated"}')).toBeUndefined();
  });
});
