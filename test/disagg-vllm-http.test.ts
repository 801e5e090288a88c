import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NIXL_PREFILL_PARAMS } from '../common/openai/index.ts';
import { createBackendTap, type BackendTap } from './fakes/backend-tap.ts';
import { startFakeVllmServer, type FakeVllmServer } from './fakes/fake-vllm-server.ts';
import {
  allHealthy,
  MODEL,
  requestLogs,
  startOrchestrator,
  testConfig,
  tokenizer,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * Disaggregation over the `vllm-http` backend, exactly as vLLM's NIXL proxies do it
 * (PROTOCOLS.md 3.1): first against recording fake vLLM servers, to pin every field of both
 * requests; then end to end, streaming, against simulated worker processes whose HTTP facades
 * speak vLLM's NIXL semantics (the decode worker pulls over the prefill worker's side channel).
 */

/** The text the frontend makes of these token ids. */
const _textOf = async (ids: number[]) => (await tokenizer()).tokenizer.decode(ids, { skipSpecialTokens: true });
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

async function sse(
  url: string,
  body: Record<string, unknown>,
  requestId: string,
): Promise<{ status: number; text: string; usage: any; done: boolean }> {
  const response = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model: MODEL, stream: true, stream_options: { include_usage: true }, ...body }),
  });
  const raw = await response.text();
  const data = raw
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));
  const events = data
    .filter((d) => d !== '[DONE]')
    .map((d) => JSON.parse(d) as { choices: { text: string }[]; usage?: unknown });
  return {
    status: response.status,
    text: events.flatMap((e) => e.choices.map((c) => c.text)).join(''),
    usage: events.at(-1)?.usage,
    done: data.at(-1) === '[DONE]',
  };
}

describe("vLLM's NIXL flow, field by field, against recording fake vLLM servers", () => {
  let prefill: FakeVllmServer;
  let decode: FakeVllmServer;
  let running: RunningOrchestrator;

  beforeAll(async () => {
    // The prefill server reports its side channel on a wildcard, as a pod bound to 0.0.0.0 may.
    [prefill, decode] = await Promise.all([startFakeVllmServer({ remoteHost: '0.0.0.0' }), startFakeVllmServer()]);
    const workers = [
      { name: 'p0', role: 'prefill', backend: 'vllm-http', address: prefill.url },
      { name: 'd0', role: 'decode', backend: 'vllm-http', address: decode.url },
    ];
    running = await startOrchestrator(testConfig(workers, { disaggregation: { mode: 'always' } }));
    await allHealthy(running, ['p0', 'd0']);
  });

  afterAll(async () => {
    await running?.close();
    await prefill?.close();
    await decode?.close();
  });

  it('prefills with max_tokens 1 and do_remote_decode, then streams the original body plus the returned params from the decode server', async () => {
    const result = await sse(
      running.url,
      { prompt: 'Tell me about disaggregated serving.', max_tokens: 6, min_tokens: 3, temperature: 0 },
      'nixl-fields',
    );
    expect(result.status).toBe(200);
    expect(result.done).toBe(true);
    // Passed through: the decode server's stream as it wrote it, its first token included.
    expect(result.text).toBe(
      range(2000, 6)
        .map((i) => `t${i}`)
        .join(''),
    );
    expect(result.usage).toMatchObject({ completion_tokens: 6 });

    const [p] = prefill.requests;
    const [d] = decode.requests;
    expect(p!.body).toMatchObject({
      max_tokens: 1,
      stream: false,
      kv_transfer_params: NIXL_PREFILL_PARAMS,
    });
    expect(p!.body).not.toHaveProperty('stream_options');
    expect(p!.body).not.toHaveProperty('min_tokens');
    expect(p!.body.prompt).toEqual(d!.body.prompt);
    // The decode request is the original one: streaming, its own max_tokens and min_tokens.
    expect(d!.body).toMatchObject({
      max_tokens: 6,
      min_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
      prompt: 'Tell me about disaggregated serving.',
      temperature: 0,
    });
    expect(d!.body).not.toHaveProperty('return_token_ids');
    // The prefill's kv_transfer_params verbatim, but for the wildcard host, replaced by the server's.
    expect(d!.body.kv_transfer_params).toEqual({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: [[1, 2, 3]],
      remote_engine_id: 'engine-p',
      remote_request_id: 'req-p',
      remote_host: '127.0.0.1',
      remote_port: 5600,
      tp_size: 1,
    });
    // One X-Request-Id on both.
    expect(p!.headers['x-request-id']).toBe('nixl-fields');
    expect(d!.headers['x-request-id']).toBe('nixl-fields');
    expect(requestLogs(running, 'nixl-fields')[0]).toMatchObject({
      mode: 'disaggregated',
      protocol: 'nixl',
      prefill: 'p0',
      decode: 'd0',
    });
  });

  it('lets the decode stream carry the first token of a sampled request, whose decode side may resample it', async () => {
    const result = await sse(
      running.url,
      { prompt: 'Sample something.', max_tokens: 5, temperature: 0.8 },
      'nixl-sampled',
    );
    expect(result.status).toBe(200);
    // Every token is the decode server's (2000, 2001, ...): none from the prefill, none dropped.
    expect(result.text).toBe(
      range(2000, 5)
        .map((i) => `t${i}`)
        .join(''),
    );
    expect(result.usage).toMatchObject({ completion_tokens: 5 });
  });
});

describe('end to end over vllm-http against simulated workers speaking NIXL', () => {
  const fleet = createWorkerFleet();
  let P: WorkerProcess;
  let D: WorkerProcess;
  let never: RunningOrchestrator;
  let always: RunningOrchestrator;
  let tap: BackendTap;
  let aggTap: BackendTap;

  beforeAll(async () => {
    [P, D] = await Promise.all([
      fleet.start(['--time-scale', '50', '--role', 'prefill']),
      fleet.start(['--time-scale', '50', '--role', 'decode']),
    ]);
    const entry = (name: string, role: string, w: WorkerProcess) => ({
      name,
      role,
      backend: 'vllm-http',
      address: w.ready.http,
      kv_events: { endpoint: w.ready.kv_events!, replay_endpoint: w.ready.replay!, topic: w.ready.topic },
    });
    const workers = [entry('p0', 'prefill', P), entry('d0', 'decode', D)];
    tap = createBackendTap();
    aggTap = createBackendTap();
    [never, always] = await Promise.all([
      startOrchestrator(testConfig(workers, { disaggregation: { mode: 'never' } }), {
        createBackend: aggTap.createBackend,
      }),
      startOrchestrator(testConfig(workers, { disaggregation: { mode: 'always' } }), {
        createBackend: tap.createBackend,
      }),
    ]);
    await Promise.all([allHealthy(never, ['p0', 'd0']), allHealthy(always, ['p0', 'd0'])]);
  });

  afterAll(async () => {
    await never?.close();
    await always?.close();
    await fleet.stopAll();
  });

  it("streams the same tokens disaggregated as aggregated, the decode worker pulling through the prefill worker's side channel", async () => {
    const prompts = [
      'Hello',
      'What is prefill? '.repeat(12),
      'A longer prompt about KV caches and their blocks. '.repeat(25),
    ];
    for (const [i, prompt] of prompts.entries()) {
      // Disaggregated first, so the decode worker caches nothing of the prompt and pulls all of it.
      // return_token_ids passes through to the workers, whose chunks then carry the ids the tap records.
      const dis = await sse(always.url, { prompt, max_tokens: 8, temperature: 0, return_token_ids: true }, `dis-${i}`);
      const agg = await sse(never.url, { prompt, max_tokens: 8, temperature: 0, return_token_ids: true }, `agg-${i}`);
      expect(agg.status).toBe(200);
      expect(dis.status).toBe(200);
      expect(dis.usage).toMatchObject({ completion_tokens: 8 });
      expect(dis.text).toBe(agg.text);
      expect(requestLogs(always, `dis-${i}`)[0]).toMatchObject({ mode: 'disaggregated', protocol: 'nixl' });
      const [pre, dec] = tap.of(`dis-${i}`);
      expect(pre!.kind).toBe('prefill');
      expect(dec!.kind).toBe('decode');
      // The params the prefill worker answered, handed on verbatim: they name its side channel (gRPC).
      const params = (dec!.handoff as { kind: 'nixl'; params: Record<string, unknown> }).params;
      expect(params).toEqual((pre!.handoff as { params: unknown }).params);
      expect(`${params.remote_host}:${params.remote_port}`).toBe(P.ready.grpc);
      expect(params.remote_engine_id).toBe(P.ready.engine_id);
      // Passed through, the decode stream carries every token, the first (resampled, greedy) included: the aggregated sequence.
      expect(dec!.tokens).toHaveLength(8);
      const [generated] = aggTap.of(`agg-${i}`);
      expect(dec!.tokens).toEqual(generated!.tokens);
      // The decode worker counts the pulled prompt as cached (vLLM's num_cached_tokens).
      expect(dec!.usage!.cachedPromptTokens).toBe(pre!.promptTokens);
    }
    await waitFor(
      () => P.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'the prefill worker to free every hold',
    );
  });
});
