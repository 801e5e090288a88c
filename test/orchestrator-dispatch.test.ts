import { describe, expect, it } from 'vitest';
import { WorkerRole } from '../proto/gen/tandem/v1/worker_pb.ts';
import { GrpcStatus } from '../proto/grpc/index.ts';
import type { FakeGrpcWorker } from './fakes/fake-grpc-worker.ts';
import {
  allHealthy,
  complete,
  MODEL,
  sample,
  startFakeFleet,
  type startWorkers,
  type testConfig,
  waitUntil,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { cleanupsAfter } from './fakes/cleanups.ts';

/**
 * The dispatcher through the real frontend, in front of fake gRPC workers: retries before the
 * first token, errors after it, client aborts reaching the worker, deadlines, the admission
 * queue under saturation, and the load book returning to zero whatever happened.
 */

const cleanups = cleanupsAfter('each');

async function fleet(
  n: number,
  overrides: Parameters<typeof testConfig>[1] = {},
  workerOptions: Parameters<typeof startWorkers>[1] = {},
): Promise<{ workers: FakeGrpcWorker[]; running: RunningOrchestrator }> {
  const { workers, running } = await startFakeFleet(cleanups, n, overrides, workerOptions, { queuePollMs: 50 });
  await allHealthy(
    running,
    workers.map((_, i) => `w${i}`),
  );
  return { workers, running };
}

/** Every tenant's bookings are gone, and the load corrected by the workers' reports is zero. */
async function expectLoadReturnsToZero(running: RunningOrchestrator): Promise<void> {
  const { load } = running.orchestrator.routing;
  const tenants = running.orchestrator.fleet.candidates({ includeUnhealthy: true }).map((c) => c.id);
  const figures = () => tenants.map((t) => load.load(t, Date.now()));
  // Bookings go at once; the figures corrected by worker reports follow the next status poll.
  await waitUntil(
    'load back to zero',
    () =>
      figures().every(
        (f) =>
          f.booked.inflightRequests === 0 &&
          f.inflightRequests === 0 &&
          f.activeDecodeBlocks === 0 &&
          f.queuedPrefillTokens === 0,
      ),
    5000,
  );
  for (const f of figures()) {
    expect(f.booked).toEqual({ inflightRequests: 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 });
    expect(f.queuedPrefillTokens).toBe(0);
    expect(f.activeDecodeBlocks).toBe(0);
  }
  expect(running.orchestrator.dispatcher.inflight).toBe(0);
}

async function stream(
  url: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<{ status: number; events: unknown[] }> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, ...body }),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  const events = text
    .split('\n\n')
    .filter((b) => b.trim() !== '')
    .map((b) => b.replace(/^data: /, ''))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
  return { status: response.status, events };
}

describe('retries', () => {
  it('retries once on another worker when a worker fails before the first token', async () => {
    const { workers, running } = await fleet(2);
    workers[0]!.behaviour.failBeforeFirstToken = GrpcStatus.UNAVAILABLE;
    for (let i = 0; i < 6; i++) {
      const result = await complete(
        running.url,
        { prompt: `question ${i} `.repeat(i + 2), max_tokens: 3 },
        { 'x-request-id': `retry-${i}` },
      );
      expect(result.status).toBe(200);
      expect(result.json.usage.completion_tokens).toBe(3);
    }
    const failedFirst = workers[0]!.calls.map((c) => c.requestId);
    expect(failedFirst.length).toBeGreaterThan(0);
    for (const id of failedFirst)
      expect(workers[1]!.calls.some((c) => c.requestId === id && c.end === 'done')).toBe(true);
    expect(
      running.logs.some((l) => l.msg.includes('retrying once on another worker') && l.requestId === failedFirst[0]),
    ).toBe(true);
    await expectLoadReturnsToZero(running);
  });

  it('retries only once: when the second worker fails too, the client gets that failure', async () => {
    const { workers, running } = await fleet(3);
    for (const w of workers) w.behaviour.failBeforeFirstToken = GrpcStatus.RESOURCE_EXHAUSTED;
    const result = await complete(running.url, { prompt: 'doomed', max_tokens: 3 });
    expect(result.status).toBe(429);
    expect(workers.reduce((n, w) => n + w.calls.length, 0)).toBe(2);
    await expectLoadReturnsToZero(running);
  });

  it('does not retry a request the worker refused as invalid', async () => {
    const { workers, running } = await fleet(2);
    for (const w of workers) w.behaviour.failBeforeFirstToken = GrpcStatus.INVALID_ARGUMENT;
    const result = await complete(running.url, { prompt: 'bad for every worker', max_tokens: 3 });
    expect(result.status).toBe(400);
    expect(workers.reduce((n, w) => n + w.calls.length, 0)).toBe(1);
    await expectLoadReturnsToZero(running);
  });

  it('ends the stream with an error event when the worker fails after the first token, without retrying', async () => {
    const { workers, running } = await fleet(2);
    for (const w of workers) w.behaviour.failAfterTokens = 2;
    const { status, events } = await stream(running.url, { prompt: 'fails midway', max_tokens: 10 });
    expect(status).toBe(200);
    const error = events.at(-2) as { error: { code: number; message: string } };
    expect(error.error.code).toBe(503);
    expect(error.error.message).toContain('fail mid-stream');
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.filter((e) => typeof e === 'object' && e !== null && 'choices' in e).length).toBeGreaterThanOrEqual(
      1,
    );
    expect(workers.reduce((n, w) => n + w.calls.length, 0)).toBe(1);
    await expectLoadReturnsToZero(running);
  });
});

describe('cancellation and deadlines', () => {
  it('cancels the call on the worker when the client disconnects', async () => {
    const { workers, running } = await fleet(1, {}, { tokenDelayMs: 50 });
    const abort = new AbortController();
    const pending = stream(running.url, { prompt: 'a long answer', max_tokens: 1000 }, abort.signal).catch(
      (e: unknown) => e,
    );
    const call = await workers[0]!.started(1);
    await waitUntil('a few tokens', () => call.tokensSent >= 2);
    abort.abort();
    await pending;
    await workers[0]!.ended(0);
    expect(call.end).toBe('cancelled');
    expect(call.tokensSent).toBeLessThan(1000);
    await expectLoadReturnsToZero(running);
    expect(
      sample(
        await (await fetch(`${running.url}/metrics`)).text(),
        'tandem_requests_total{outcome="cancelled",mode="none"}',
      ),
    ).toBe(1);
  });

  it('cancels the worker call and answers 504 at the request deadline', async () => {
    const { workers, running } = await fleet(1, { orchestrator: { request_timeout_s: 0.3 } });
    workers[0]!.behaviour.hang = true;
    const result = await complete(running.url, { prompt: 'never answered', max_tokens: 5 });
    expect(result.status).toBe(504);
    expect(result.json.error.type).toBe('TimeoutError');
    await workers[0]!.ended(0);
    expect(workers[0]!.calls[0]!.end).toBe('cancelled');
    await expectLoadReturnsToZero(running);
  });

  it('stops the worker when a stop string ends the stream, and releases the load', async () => {
    const { workers, running } = await fleet(1, {}, { tokenDelayMs: 5 });
    // The fake streams ids 1000, 1001, ...: "atus", "Th", "itle", "rit", ... in Qwen3's vocabulary.
    const result = await complete(running.url, { prompt: 'stop me', max_tokens: 500, stop: ['rit'] });
    expect(result.status).toBe(200);
    expect(result.json.choices[0]).toMatchObject({ text: 'atusThitle', finish_reason: 'stop' });
    await workers[0]!.ended(0);
    expect(workers[0]!.calls[0]!.end).toBe('cancelled');
    expect(workers[0]!.calls[0]!.tokensSent).toBeLessThan(500);
    await expectLoadReturnsToZero(running);
  });
});

describe('saturation', () => {
  it('queues when every worker is saturated, then answers 429 when the queue is full and 503 when the wait runs out, with Retry-After', async () => {
    const { workers, running } = await fleet(1, {
      orchestrator: {
        dispatch: { max_inflight_per_worker: 1 },
        admission: { max_queued: 1, queue_timeout_s: 0.5, retry_after_s: 2 },
      },
    });
    workers[0]!.behaviour.hang = true;
    const occupying = complete(running.url, { prompt: 'occupies the worker', max_tokens: 5 }).catch(() => undefined);
    await workers[0]!.started(1);

    const queued = complete(running.url, { prompt: 'waits', max_tokens: 5 });
    await waitUntil('one queued', () => running.orchestrator.dispatcher.queued === 1);
    expect(sample(await (await fetch(`${running.url}/metrics`)).text(), 'tandem_queue_depth')).toBe(1);

    const refused = await complete(running.url, { prompt: 'refused', max_tokens: 5 });
    expect(refused.status).toBe(429);
    // Nothing has drained yet, so Retry-After is the longest a request may wait (0.5 s, rounded up).
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json.error.type).toBe('RateLimitError');

    const timedOut = await queued;
    expect(timedOut.status).toBe(503);
    expect(timedOut.headers.get('retry-after')).toBe('1');
    expect(timedOut.json.error.message).toContain('saturated');
    expect(workers[0]!.calls).toHaveLength(1);
    expect(
      sample(
        await (await fetch(`${running.url}/metrics`)).text(),
        'tandem_requests_total{outcome="rejected",mode="none"}',
      ),
    ).toBe(2);

    await running.close();
    await occupying;
  });

  it('lets a queued request run as soon as a worker has room again', async () => {
    const { workers, running } = await fleet(
      2,
      { orchestrator: { dispatch: { max_inflight_per_worker: 1 }, admission: { max_queued: 4, queue_timeout_s: 10 } } },
      { tokenDelayMs: 20 },
    );
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => complete(running.url, { prompt: `parallel ${i} `.repeat(5), max_tokens: 5 })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // Never more than one at a time on a worker: four of the six waited their turn.
    expect(workers.map((w) => w.maxRunning)).toEqual([1, 1]);
    expect(workers.reduce((n, w) => n + w.calls.length, 0)).toBe(6);
    await expectLoadReturnsToZero(running);
    expect(running.orchestrator.dispatcher.queued).toBe(0);
    // Each request's log line says how long it waited in line (a request takes 100 ms on a worker).
    const queuedMs = running.logs.filter((l) => l.outcome === 'success').map((l) => l.queuedMs as number);
    expect(queuedMs).toHaveLength(6);
    expect(queuedMs.filter((q) => q === 0).length).toBeGreaterThanOrEqual(2);
    expect(queuedMs.filter((q) => q >= 50).length).toBeGreaterThanOrEqual(3);
  });

  it('sends a request to an equally cheap worker with room, not to the full one it would otherwise wait for', async () => {
    const { workers, running } = await fleet(2, {
      orchestrator: { dispatch: { max_inflight_per_worker: 1 }, admission: { max_queued: 4, queue_timeout_s: 10 } },
    });
    for (const w of workers) w.behaviour.hang = true;
    const occupying = complete(running.url, { prompt: 'a', max_tokens: 2 }).catch(() => undefined);
    await waitUntil('the first request placed', () => workers.some((w) => w.calls.length === 1));
    const full = workers.find((w) => w.calls.length === 1)!;
    const other = workers.find((w) => w !== full)!;
    other.behaviour.hang = false;
    // The worker with room is now the most recently chosen, so on a tie the full one is the least
    // recently chosen: without room in the tie-break, the next request would wait for it.
    expect((await complete(running.url, { prompt: 'b', max_tokens: 2 })).status).toBe(200);
    const next = await complete(running.url, { prompt: 'c', max_tokens: 2 });
    expect(next.status).toBe(200);
    expect(other.calls).toHaveLength(2);
    expect(full.calls).toHaveLength(1);
    const waited = running.logs.filter((l) => l.outcome === 'success').map((l) => l.queuedMs);
    expect(waited).toEqual([0, 0]);
    await running.close();
    await occupying;
  });

  it("refuses at once an arrival that would wait more than twice the workers' time to a first token, long before the queue timeout", async () => {
    // 50 ms per token: the workers' time to a first token is at least 50 ms, so a waiter's budget
    // (2 x that) is at least 100 ms, long enough to see it in line on a loaded machine (with a
    // fleet that answers in 3 ms the waiter gave up before the test saw it).
    const { workers, running } = await fleet(
      1,
      { orchestrator: { dispatch: { max_inflight_per_worker: 1 }, admission: { max_queued: 8, queue_timeout_s: 10 } } },
      { tokenDelayMs: 50 },
    );
    // Twenty requests one after the other (100 ms each): the fleet's time to a first token and a
    // drain rate become known.
    for (let i = 0; i < 20; i++)
      expect((await complete(running.url, { prompt: `warm ${i}`, max_tokens: 2 })).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the rate: about 21 placements in 4 s
    workers[0]!.behaviour.hang = true;
    const occupying = complete(running.url, { prompt: 'occupies the worker', max_tokens: 5 }).catch(() => undefined);
    await workers[0]!.started(21);
    // An empty line is always joined.
    const queued = complete(running.url, { prompt: 'waits', max_tokens: 5 }).catch(() => undefined);
    await waitUntil('one queued', () => running.orchestrator.dispatcher.queued === 1);
    // The next would expect to wait 2 / (about 5 per second) = 0.4 s: more than 2 x a TTFT of ~50 ms,
    // though far less than the 10 s queue timeout (the old rule would have queued it).
    const refused = await complete(running.url, { prompt: 'refused', max_tokens: 5 });
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toMatch(
      /longer than a request may wait now \([0-9.]+ ms: 2 x the [0-9.]+ ms the workers take to a first token\)/,
    );
    expect(running.orchestrator.dispatcher.queued).toBe(1);
    await running.close();
    await Promise.all([occupying, queued]);
  });
});

describe('the core for the frontend', () => {
  it('explains a routing decision without sending anything or booking load', async () => {
    const { workers, running } = await fleet(2);
    const response = await fetch(`${running.url}/debug/route`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'where would this go?' }),
    });
    expect(response.status).toBe(200);
    const { decision } = (await response.json()) as {
      decision: {
        workerId: string;
        policy: string;
        reason: string;
        candidates: { id: string; cost: { totalSeconds: number } }[];
        saturated: string[];
        mode: string;
      };
    };
    expect(decision.policy).toBe('kv');
    expect(['w0', 'w1']).toContain(decision.workerId);
    expect(decision.candidates.map((c) => c.id).sort()).toEqual(['w0', 'w1']);
    expect(decision.candidates.every((c) => c.cost.totalSeconds > 0)).toBe(true);
    expect(decision.reason).not.toBe('');
    expect(decision).toMatchObject({ saturated: [], mode: 'aggregated' });
    expect(workers.reduce((n, w) => n + w.calls.length, 0)).toBe(0);
    await expectLoadReturnsToZero(running);
  });

  it('needs a healthy worker that can decode to be ready', async () => {
    const { running } = await fleet(1, {}, { role: WorkerRole.PREFILL });
    const ready = await fetch(`${running.url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { detail: string }).detail).toContain('1 healthy prefill');
    expect(running.orchestrator.fleet.notRouted()).toEqual([]);
  });

  it('shows each worker with role, profile, health, load and index in /debug/workers', async () => {
    const { running } = await fleet(1);
    const [w0] = (await (await fetch(`${running.url}/debug/workers`)).json()) as Record<string, any>[];
    expect(w0).toMatchObject({
      name: 'w0',
      backend: 'grpc',
      state: 'healthy',
      role: 'both',
      profile: { gpu: 'h100-sxm', model: 'qwen3-8b', tp: 1, source: 'announced' },
      engineKind: 'fake',
      health: { state: 'healthy' },
    });
    expect(w0!.ranks[0]).toMatchObject({
      tenant: 'w0',
      dpRank: 0,
      load: { inflightRequests: 0 },
      indexedBlocks: 0,
      index: { blockSize: 16 },
    });
  });
});

describe('fields a backend cannot honour', () => {
  it('answers 400 naming the field, the backend and the worker when routing picks a gRPC worker, and books nothing', async () => {
    const { workers, running } = await fleet(1);
    const chat = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      }),
    });
    expect(chat.status).toBe(400);
    const body = (await chat.json()) as { error: { message: string; param: string } };
    expect(body.error.param).toBe('tools');
    expect(body.error.message).toBe(
      'tools: not supported by backend grpc (worker w0): no tool calling; vllm-http workers support it',
    );
    const n = await complete(running.url, { prompt: 'two please', n: 2, max_tokens: 2 });
    expect(n.status).toBe(400);
    expect(n.json.error.message).toMatch(
      /^n: not supported by backend grpc \(worker w0\): n must be 1; vllm-http workers support it$/,
    );
    expect(workers[0]!.calls.length).toBe(0);
    await expectLoadReturnsToZero(running);
    // What the token-level path honours still runs, without a model too.
    expect((await complete(running.url, { prompt: 'fine', max_tokens: 2, model: undefined })).status).toBe(200);
  });
});
