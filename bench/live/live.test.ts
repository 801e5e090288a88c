import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkload } from '../workloads/registry.ts';
import { startFakeServer, type FakeReply, type FakeServer } from './fake-server.ts';
import { runLive, type LiveOptions } from './run-live.ts';

const base: Omit<LiveOptions, 'url' | 'workload'> = {
  params: {},
  seed: '1',
  timeoutS: 10,
  ignoreEos: true,
  slo: { ttftMs: 1000, itlMs: 100 },
  blockSize: 16,
  policy: 'kv',
  label: null,
  command: 'npx tandem bench live (test)',
};
const small = {
  rate: 20,
  short_tokens_min: 20,
  short_tokens_max: 60,
  long_tokens_min: 100,
  long_tokens_max: 200,
  output_tokens_min: 12,
  output_tokens_max: 12,
};

describe('live load generator against a fake streaming server', () => {
  let slow: FakeServer;
  let fast: FakeServer;
  beforeAll(async () => {
    slow = await startFakeServer({
      ttftMs: 150,
      itlMs: 40,
      reply: (body) => ({ kind: 'stream', ttftMs: 150, itlMs: 40, tokens: body.max_tokens, cachedTokens: 16 }),
    });
    fast = await startFakeServer({ ttftMs: 20, itlMs: 5 });
  });
  afterAll(async () => {
    await slow?.close();
    await fast?.close();
  });

  it('measures TTFT and each token gap from the stream, not the whole response', async () => {
    const [run] = await runLive({
      ...base,
      url: slow.url,
      workload: 'mixed-isl',
      params: small,
      concurrency: [3],
      requests: 6,
    });
    const s = run!.summary;
    expect(s.requests).toMatchObject({ sent: 6, completed: 6, failed: 0 });
    // The server waits 150 ms, then sends 12 tokens 40 ms apart: 590 ms in all.
    expect(s.ttft_ms!.min).toBeGreaterThanOrEqual(150 * 0.9);
    expect(s.ttft_ms!.p50).toBeLessThan(s.e2e_ms!.p50 / 2);
    expect(s.e2e_ms!.min).toBeGreaterThanOrEqual((150 + 11 * 40) * 0.9);
    expect(s.itl_ms!.count).toBe(6 * 11);
    expect(s.itl_ms!.p50).toBeGreaterThanOrEqual(40 * 0.9);
    expect(s.tpot_ms!.min).toBeGreaterThanOrEqual(40 * 0.9);
    expect(s.output_tokens).toBe(72);
    expect(run!.setup).toMatchObject({ model: 'fake-model', stopped_by: 'requests' });
  });

  it('ranks a slower server slower on every latency it measures', async () => {
    const [slowRun] = await runLive({
      ...base,
      url: slow.url,
      workload: 'mixed-isl',
      params: small,
      concurrency: [2],
      requests: 4,
    });
    const [fastRun] = await runLive({
      ...base,
      url: fast.url,
      workload: 'mixed-isl',
      params: small,
      concurrency: [2],
      requests: 4,
    });
    expect(fastRun!.summary.ttft_ms!.p50).toBeLessThan(slowRun!.summary.ttft_ms!.p50);
    expect(fastRun!.summary.itl_ms!.p50).toBeLessThan(slowRun!.summary.itl_ms!.p50);
  });

  it('sends the workload as token ids with usage requested, and reads the hit rate from cached tokens', async () => {
    const before = slow.received.length;
    const [run] = await runLive({
      ...base,
      url: slow.url,
      workload: 'mixed-isl',
      params: small,
      concurrency: [2],
      requests: 4,
    });
    const sent = slow.received.slice(before);
    const workload = createWorkload('mixed-isl', small, '1');
    const source = workload.ok ? workload.value.open() : undefined;
    const expected = Array.from({ length: 4 }, () => source!.take()!);
    expect(sent.map((r) => r.requestId).sort()).toEqual(expected.map((r) => r.id).sort());
    for (const request of expected) {
      const body = sent.find((r) => r.requestId === request.id)!.body;
      expect(body.prompt).toEqual(Array.from(request.promptTokenIds));
      expect(body).toMatchObject({
        model: 'fake-model',
        max_tokens: 12,
        stream: true,
        stream_options: { include_usage: true },
        ignore_eos: true,
        user: request.sessionKey,
      });
    }
    const promptTokens = expected.reduce((sum, r) => sum + r.promptTokenIds.length, 0);
    expect(run!.summary.prefix_cache.hit_rate).toBeCloseTo((4 * 16) / promptTokens, 12);
    expect(run!.summary.prefix_cache.reported_by).toBe(4);
  });

  it('keeps exactly --concurrency requests in flight in a closed loop', async () => {
    const server = await startFakeServer({ ttftMs: 60, itlMs: 10 });
    try {
      const [run] = await runLive({
        ...base,
        url: server.url,
        workload: 'mixed-isl',
        params: small,
        concurrency: [4],
        requests: 16,
      });
      expect(run!.summary.requests.completed).toBe(16);
      expect(server.maxConcurrent).toBe(4);
      expect(run!.concurrency).toBe(4);
      expect(run!.qps).toBeNull();
    } finally {
      await server.close();
    }
  });

  it('sends at the workload arrival times in --qps mode, so the run lasts past the last arrival', async () => {
    const [run] = await runLive({
      ...base,
      url: fast.url,
      workload: 'mixed-isl',
      params: small,
      qps: [8],
      requests: 8,
    });
    const workload = createWorkload('mixed-isl', { ...small, rate: 8 }, '1');
    const source = workload.ok ? workload.value.open() : undefined;
    const lastArrival = Array.from({ length: 8 }, () => source!.take()!.arrivalMs).at(-1)!;
    expect(run!.summary.duration_s * 1000).toBeGreaterThanOrEqual(lastArrival);
    expect(run!.qps).toBe(8);
    expect(run!.workload.params.rate).toBe(8);
    expect(run!.summary.send_lag_ms?.count).toBe(8);
  });

  it('starts a conversation turn only after the previous turn streamed its last byte', async () => {
    const server = await startFakeServer({ ttftMs: 20, itlMs: 5 });
    try {
      const params = {
        conversations: 3,
        turns_min: 3,
        turns_max: 3,
        think_time_s: 0.05,
        rate: 50,
        system_prompt_tokens: 20,
        user_tokens_min: 5,
        user_tokens_max: 10,
        output_tokens_min: 4,
        output_tokens_max: 4,
      };
      const [run] = await runLive({ ...base, url: server.url, workload: 'multi-turn-chat', params, requests: 100 });
      expect(run!.summary.requests.completed).toBe(9);
      expect(run!.setup.stopped_by).toBe('exhausted');
      for (let c = 0; c < 3; c++) {
        for (let t = 1; t < 3; t++) {
          expect(server.events.indexOf(`start conv${c}-${t}`)).toBeGreaterThan(
            server.events.indexOf(`end conv${c}-${t - 1}`),
          );
          const previous = server.received.find((r) => r.requestId === `conv${c}-${t - 1}`)!.body.prompt as number[];
          const current = server.received.find((r) => r.requestId === `conv${c}-${t}`)!.body.prompt as number[];
          expect(current.slice(0, previous.length)).toEqual(previous);
          expect(current.length).toBeGreaterThanOrEqual(previous.length + 4 + 5); // the 4-token reply and a new message
        }
      }
    } finally {
      await server.close();
    }
  });

  it('counts errors, resets, mid-stream errors and timeouts as failed requests and finishes the run', async () => {
    const replies: (FakeReply | undefined)[] = [
      { kind: 'status', status: 503, message: 'no healthy worker' },
      { kind: 'hang' },
      { kind: 'error-mid-stream', afterTokens: 3 },
      { kind: 'reset', afterTokens: 2 },
    ];
    const server = await startFakeServer({ ttftMs: 10, itlMs: 2, reply: (_body, index) => replies[index] });
    try {
      const [run] = await runLive({
        ...base,
        timeoutS: 0.5,
        url: server.url,
        workload: 'mixed-isl',
        params: small,
        concurrency: [4],
        requests: 8,
      });
      expect(run!.summary.requests).toEqual({
        sent: 8,
        completed: 4,
        failed: 4,
        failures: { http_503: 1, timeout: 1, stream_error: 1, stream_truncated: 1 },
      });
      expect(run!.summary.slo.attainment).toBe(0.5);
    } finally {
      await server.close();
    }
  });

  it('fails every request, without crashing, when nothing listens', async () => {
    const server = await startFakeServer();
    const url = server.url;
    await server.close();
    const [run] = await runLive({
      ...base,
      url,
      model: 'fake-model',
      workload: 'mixed-isl',
      params: small,
      concurrency: [2],
      requests: 3,
    });
    expect(run!.summary.requests).toMatchObject({ sent: 3, completed: 0, failed: 3, failures: { connection: 3 } });
    expect(run!.summary.ttft_ms).toBeNull();
  });

  it('refuses to start when it cannot find out the model', async () => {
    const server = await startFakeServer();
    const url = server.url;
    await server.close();
    await expect(runLive({ ...base, url, workload: 'mixed-isl', params: small, requests: 1 })).rejects.toThrow(
      /cannot list models .* pass --model/,
    );
  });
});
