import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../common/errors.ts';
import {
  createGrpcBackend,
  createVllmHttpBackend,
  type GenerateCall,
  type BackendChunk,
  type WorkerBackend,
} from '../orchestrator/backends/index.ts';
import { GrpcStatus } from '../proto/grpc/index.ts';
import { greedySampling } from './fakes/engine-calls.ts';
import { startFakeGrpcWorker, type FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import { startFakeVllmServer, type FakeVllmServer } from './fakes/fake-vllm-server.ts';

/** Both worker backends against faithful fakes over real sockets on loopback. */

const call = (overrides: Partial<GenerateCall> = {}): GenerateCall => ({
  requestId: 'req-1',
  model: 'Qwen/Qwen3-8B',
  tokenIds: Array.from({ length: 40 }, (_, i) => i + 1),
  sampling: greedySampling(5, { stopTokenIds: [7] }),
  deadlineUnixMs: Date.now() + 60_000,
  ...overrides,
});

async function collect(stream: AsyncIterable<BackendChunk>): Promise<BackendChunk[]> {
  const chunks: BackendChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function failure(promise: Promise<unknown>): Promise<TandemError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TandemError);
  return error as TandemError;
}

describe('grpc backend against a fake WorkerService', () => {
  let worker: FakeGrpcWorker;
  let backend: WorkerBackend;
  beforeAll(async () => {
    worker = await startFakeGrpcWorker({ blockSize: 16 });
    backend = createGrpcBackend({ name: 'g0', address: worker.address });
  });
  afterAll(async () => {
    await backend?.close();
    await worker?.close();
  });

  it('streams the sampled tokens, then a last chunk with the finish reason and usage', async () => {
    const chunks = await collect(backend.generate(call(), new AbortController().signal));
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual([1000, 1001, 1002, 1003, 1004]);
    const last = chunks.at(-1)!;
    expect(last.finishReason).toBe('length');
    expect(last.usage).toMatchObject({ promptTokens: 40, cachedPromptTokens: 0, completionTokens: 5 });
    expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined)).toBe(true);
    // The same prompt again hits the fake's prefix cache: two full blocks of 16 (39 tokens max).
    const again = await collect(backend.generate(call({ requestId: 'req-2' }), new AbortController().signal));
    expect(again.at(-1)!.usage?.cachedPromptTokens).toBe(32);
    expect(worker.calls.at(-1)!.requestId).toBe('req-2');
  });

  it('passes the data-parallel rank as metadata', async () => {
    await collect(backend.generate(call({ requestId: 'dp', dpRank: 3 }), new AbortController().signal));
    expect(worker.calls.at(-1)!.dpRankMetadata).toBe('3');
  });

  it('cancels the RPC on the worker when the signal aborts', async () => {
    worker.behaviour.hang = true;
    try {
      const abort = new AbortController();
      const before = worker.calls.length;
      const pending = collect(backend.generate(call({ requestId: 'cancel-me' }), abort.signal));
      const started = await worker.started(before + 1);
      abort.abort(new TandemError('cancelled', 'client left'));
      const error = await failure(pending);
      expect(error.code).toBe('cancelled');
      expect(error.message).toBe('client left');
      await worker.ended(before);
      expect(started.end).toBe('cancelled');
    } finally {
      worker.behaviour.hang = false;
    }
  });

  it('maps gRPC statuses to TandemError codes', async () => {
    const cases: [GrpcStatus, string][] = [
      [GrpcStatus.UNAVAILABLE, 'unavailable'],
      [GrpcStatus.INVALID_ARGUMENT, 'invalid_request'],
      [GrpcStatus.RESOURCE_EXHAUSTED, 'rate_limited'],
      [GrpcStatus.INTERNAL, 'upstream_error'],
      [GrpcStatus.DEADLINE_EXCEEDED, 'deadline_exceeded'],
    ];
    try {
      for (const [status, code] of cases) {
        worker.behaviour.failBeforeFirstToken = status;
        const error = await failure(collect(backend.generate(call(), new AbortController().signal)));
        expect(error.code, GrpcStatus[status]).toBe(code);
        expect(error.message).toContain('worker g0 Generate');
      }
    } finally {
      worker.behaviour.failBeforeFirstToken = null;
    }
  });

  it('reports an unreachable worker as unavailable', async () => {
    const gone = createGrpcBackend({ name: 'gone', address: '127.0.0.1:1' });
    try {
      expect((await failure(gone.status(AbortSignal.timeout(5000)))).code).toBe('unavailable');
    } finally {
      await gone.close();
    }
  });

  it('parses GetStatus: identity, profile, block size, load, KV-event endpoints', async () => {
    const status = await backend.status(new AbortController().signal);
    expect(status).toMatchObject({
      engineId: worker.behaviour.engineId,
      role: 'both',
      engineKind: 'fake',
      gpu: 'h100-sxm',
      model: 'qwen3-8b',
      tp: 1,
      blockSize: 16,
      maxModelLen: 32768,
    });
    expect(status.kvEventEndpoints).toEqual([
      { endpoint: worker.kvEndpoint, replayEndpoint: worker.replayEndpoint, topic: 'kv-events', dpRank: 0 },
    ]);
    expect(status.load).toEqual([
      {
        dpRank: 0,
        report: expect.objectContaining({ runningRequests: 0, waitingRequests: 0, totalKvBlocks: 100_000 }),
      },
    ]);
  });

  it('carries a handoff from Prefill to Decode and releases it', async () => {
    const prefill = await backend.prefill(call({ requestId: 'p1' }), new AbortController().signal);
    expect(prefill.firstTokenId).toBe(1000);
    expect(prefill.handoff).toMatchObject({ kind: 'tandem', remoteRequestId: 'held-p1' });
    const chunks = await collect(
      backend.decode(
        { ...call({ requestId: 'p1' }), handoff: prefill.handoff!, firstTokenId: 1000 },
        new AbortController().signal,
      ),
    );
    expect(chunks.at(-1)!.usage).toMatchObject({ transferredPromptTokens: 40, transferredBlocks: 2 });
    expect(await backend.release(prefill.handoff!)).toEqual({ found: true, releasedBlocks: 4 });
  });

  it('rejects an address that is not host:port', () => {
    expect(() => createGrpcBackend({ name: 'bad', address: 'http://x' })).toThrow(/host:port/);
  });
});

describe('vllm-http backend against a fake vLLM server', () => {
  let server: FakeVllmServer;
  let backend: WorkerBackend;
  beforeAll(async () => {
    server = await startFakeVllmServer({ servedModel: 'served/name', blockSize: 16, engines: 2 });
    backend = createVllmHttpBackend({ name: 'v0', address: server.url });
  });
  afterAll(async () => {
    await backend?.close();
    await server?.close();
  });

  it('sends the prompt as token ids and reads token_ids back from the SSE stream, with usage', async () => {
    server.behaviour.cachedTokens = 16;
    const chunks = await collect(backend.generate(call({ requestId: 'v-1', dpRank: 1 }), new AbortController().signal));
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual([2000, 2001, 2002, 2003, 2004]);
    expect(chunks.at(-1)).toMatchObject({
      finishReason: 'length',
      usage: { promptTokens: 40, cachedPromptTokens: 16, completionTokens: 5 },
    });
    const sent = server.requests.at(-1)!;
    expect(sent.body).toMatchObject({
      prompt: call().tokenIds,
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
      return_token_ids: true,
      stop_token_ids: [7],
      temperature: 0,
    });
    expect(sent.headers['x-request-id']).toBe('v-1');
    expect(sent.headers['x-data-parallel-rank']).toBe('1');
  });

  it('learns the served model name from /v1/models and sends it', async () => {
    const fresh = createVllmHttpBackend({ name: 'v1', address: server.url });
    try {
      await fresh.status(new AbortController().signal);
      await collect(fresh.generate(call(), new AbortController().signal));
      expect(server.requests.at(-1)!.body.model).toBe('served/name');
    } finally {
      await fresh.close();
    }
  });

  it('closes the HTTP request when the signal aborts, so vLLM aborts the generation', async () => {
    server.behaviour.hang = true;
    try {
      const abort = new AbortController();
      const index = server.requests.length;
      const pending = collect(backend.generate(call({ requestId: 'v-cancel' }), abort.signal));
      while (server.requests.length <= index) await new Promise((r) => setTimeout(r, 5));
      abort.abort(new TandemError('cancelled', 'client left'));
      expect((await failure(pending)).code).toBe('cancelled');
      expect((await server.settled(index)).closedEarly).toBe(true);
    } finally {
      server.behaviour.hang = false;
    }
  });

  it('closes the HTTP request when the consumer stops reading', async () => {
    const index = server.requests.length;
    const slow = await startFakeVllmServer({ tokenDelayMs: 20 });
    const slowBackend = createVllmHttpBackend({ name: 'slow', address: slow.url });
    try {
      for await (const chunk of slowBackend.generate(
        call({ sampling: { ...call().sampling, maxTokens: 200 } }),
        new AbortController().signal,
      )) {
        expect(chunk.tokenIds).toEqual([2000]);
        break;
      }
      const settled = await slow.settled(0);
      expect(settled.closedEarly).toBe(true);
      expect(settled.tokensSent).toBeLessThan(200);
    } finally {
      await slowBackend.close();
      await slow.close();
    }
    expect(server.requests.length).toBe(index);
  });

  it('maps HTTP statuses and stream errors to TandemError codes', async () => {
    const cases: [number, string][] = [
      [400, 'invalid_request'],
      [429, 'rate_limited'],
      [500, 'upstream_error'],
      [503, 'unavailable'],
    ];
    try {
      for (const [status, code] of cases) {
        server.behaviour.failStatus = status;
        const error = await failure(collect(backend.generate(call(), new AbortController().signal)));
        expect(error.code, String(status)).toBe(code);
        expect(error.message).toContain(`fake vLLM told to answer ${status}`);
      }
    } finally {
      server.behaviour.failStatus = null;
    }
    server.behaviour.errorAfterTokens = 2;
    try {
      const tokens: number[] = [];
      const error = await failure(
        (async () => {
          for await (const chunk of backend.generate(call(), new AbortController().signal))
            tokens.push(...chunk.tokenIds);
        })(),
      );
      expect(tokens).toEqual([2000, 2001]);
      expect(error.code).toBe('upstream_error');
      expect(error.message).toContain('fake vLLM engine died');
    } finally {
      server.behaviour.errorAfterTokens = null;
    }
  });

  it('refuses a server that streams text without token_ids, loudly', async () => {
    server.behaviour.omitTokenIds = true;
    try {
      const error = await failure(collect(backend.generate(call(), new AbortController().signal)));
      expect(error.code).toBe('upstream_error');
      expect(error.message).toContain('return_token_ids');
    } finally {
      server.behaviour.omitTokenIds = false;
    }
  });

  it('reports an unreachable server as unavailable', async () => {
    const gone = createVllmHttpBackend({ name: 'gone', address: '127.0.0.1:1' });
    try {
      expect((await failure(collect(gone.generate(call(), new AbortController().signal)))).code).toBe('unavailable');
    } finally {
      await gone.close();
    }
  });

  it('reads load per data-parallel engine, block size and incarnation from /metrics', async () => {
    server.behaviour.running = 4;
    server.behaviour.waiting = 1;
    server.behaviour.kvUsage = 0.5;
    const status = await backend.status(new AbortController().signal);
    expect(status).toMatchObject({
      engineKind: 'vllm',
      blockSize: 16,
      maxModelLen: 4096,
      servedModels: ['served/name'],
      engineId: 'vllm-started-1700000000.5',
      warnings: [],
    });
    expect(status.load).toEqual([
      { dpRank: 0, report: { runningRequests: 4, waitingRequests: 1, kvUsage: 0.5, totalKvBlocks: 1000 } },
      { dpRank: 1, report: { runningRequests: 4, waitingRequests: 1, kvUsage: 0.5, totalKvBlocks: 1000 } },
    ]);
  });

  it('falls back to the pre-0.10 KV-usage metric name', async () => {
    const old = await startFakeVllmServer({ metricNames: 'old' });
    const oldBackend = createVllmHttpBackend({ name: 'old', address: old.url });
    try {
      old.behaviour.kvUsage = 0.75;
      const status = await oldBackend.status(new AbortController().signal);
      expect(status.load[0]?.report.kvUsage).toBe(0.75);
    } finally {
      await oldBackend.close();
      await old.close();
    }
  });

  it('fails its status when /health is not 200', async () => {
    server.behaviour.healthStatus = 503;
    try {
      const error = await failure(backend.status(new AbortController().signal));
      expect(error.code).toBe('unavailable');
    } finally {
      server.behaviour.healthStatus = 200;
    }
  });

  it('prefills with max_tokens 1 and kv_transfer_params, and decodes with what the prefill returned', async () => {
    const prefill = await backend.prefill(call({ requestId: 'nixl' }), new AbortController().signal);
    expect(server.requests.at(-1)!.body).toMatchObject({
      max_tokens: 1,
      stream: false,
      kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false },
    });
    expect(prefill.firstTokenId).toBe(2000);
    expect(prefill.finishReason).toBeNull();
    expect(prefill.handoff).toMatchObject({
      kind: 'nixl',
      params: { remote_engine_id: 'engine-p', remote_block_ids: [[1, 2, 3]] },
    });
    await collect(
      backend.decode({ ...call({ requestId: 'nixl' }), handoff: prefill.handoff! }, new AbortController().signal),
    );
    const decode = server.requests.at(-1)!.body;
    expect(decode.kv_transfer_params).toEqual((prefill.handoff as { params: unknown }).params);
    expect(decode).toMatchObject({ max_tokens: 5, stream: true });
  });
});
