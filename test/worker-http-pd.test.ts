import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NIXL_PREFILL_PARAMS } from '../common/openai/index.ts';
import { createWorkerFleet, waitFor, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * vLLM's NIXL-style disaggregation through the HTTP facades of two worker processes, as a
 * vLLM proxy drives it: the prefill worker gets `kv_transfer_params.do_remote_decode` and
 * answers with top-level `kv_transfer_params`; the decode worker gets the original (streaming)
 * request plus those params, pulls the KV over the gRPC side channel, and streams.
 */
const fleet = createWorkerFleet();
let prefill: WorkerProcess;
let decode: WorkerProcess;
const MODEL = 'Qwen/Qwen3-8B';
const prompt = (length: number, offset = 0) => Array.from({ length }, (_, i) => 2000 + offset + i);

async function post(worker: WorkerProcess, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${worker.ready.http}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** The JSON events of an SSE body, and whether it ended with [DONE]. */
function sseEvents(text: string): { events: Record<string, any>[]; done: boolean } {
  const data = text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length));
  return {
    events: data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Record<string, any>),
    done: data.at(-1) === '[DONE]',
  };
}

beforeAll(async () => {
  [prefill, decode] = await Promise.all([
    fleet.start(['--time-scale', '50', '--role', 'prefill']),
    fleet.start(['--time-scale', '50', '--role', 'decode']),
  ]);
});

afterAll(async () => {
  await fleet.stopAll();
});

describe('disaggregated serving through the vLLM HTTP facade', () => {
  it('prefills with do_remote_decode, streams the decode with the returned params, and frees the prefill side', async () => {
    const tokens = prompt(300);
    const p = await post(
      prefill,
      '/v1/completions',
      { model: MODEL, prompt: tokens, max_tokens: 1, stream: false, kv_transfer_params: NIXL_PREFILL_PARAMS },
      { 'x-request-id': 'pd-http-1' },
    );
    expect(p.status).toBe(200);
    const pBody = JSON.parse(p.text) as Record<string, any>;
    expect(pBody.choices[0].finish_reason).toBe('length');
    expect(pBody.usage).toMatchObject({ prompt_tokens: 300, completion_tokens: 1 });
    const params = pBody.kv_transfer_params as Record<string, any>;
    expect(params).toMatchObject({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_engine_id: prefill.ready.engine_id,
      remote_host: '127.0.0.1',
      tp_size: 1,
    });
    expect(`127.0.0.1:${params.remote_port}`).toBe(prefill.ready.grpc);
    expect(params.remote_block_ids).toEqual([expect.any(Array)]);
    expect(params.remote_block_ids[0]).toHaveLength(19);
    expect(typeof params.remote_request_id).toBe('string');
    expect(params.remote_blocks_expiry_time).toBeGreaterThan(Date.now() / 1000 + 400);
    expect((await prefill.grpc.getStatus({})).heldBlocks).toBe(19);

    const d = await post(
      decode,
      '/v1/completions',
      {
        model: MODEL,
        prompt: tokens,
        max_tokens: 8,
        temperature: 0,
        stream: true,
        stream_options: { include_usage: true },
        return_token_ids: true,
        kv_transfer_params: params,
      },
      { 'x-request-id': 'pd-http-1' },
    );
    expect(d.status).toBe(200);
    expect(d.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { events, done } = sseEvents(d.text);
    expect(done).toBe(true);
    const usageChunk = events.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    // Every prompt token was pulled, none computed here: vLLM counts them as cached.
    expect(usageChunk.usage).toEqual({
      prompt_tokens: 300,
      completion_tokens: 8,
      total_tokens: 308,
      prompt_tokens_details: { cached_tokens: 300 },
    });
    const choices = events.slice(0, -1).map((e) => e.choices[0]);
    expect(choices[0].prompt_token_ids).toEqual(tokens);
    expect(choices.slice(1).every((c) => c.prompt_token_ids === undefined)).toBe(true);
    expect(choices.at(-1).finish_reason).toBe('length');
    const streamed = choices.flatMap((c) => c.token_ids as number[]);
    expect(streamed).toHaveLength(8);

    // Greedy decoding of one prompt gives one output, wherever its KV was computed.
    const aggregated = JSON.parse(
      (
        await post(prefill, '/v1/completions', {
          model: MODEL,
          prompt: tokens,
          max_tokens: 8,
          temperature: 0,
          return_token_ids: true,
        })
      ).text,
    ) as Record<string, any>;
    expect(streamed).toEqual(aggregated.choices[0].token_ids);
    expect(choices.map((c) => c.text).join('')).toBe(aggregated.choices[0].text);

    await waitFor(
      () => prefill.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'the prefill worker to release its blocks',
    );
    const decodeStatus = await decode.grpc.getStatus({});
    expect(decodeStatus.usedBlocks).toBe(0);
  });

  it('does the same for chat completions, with the chat template on both sides', async () => {
    const messages = [{ role: 'user', content: `Explain KV caches in one sentence. ${'Context. '.repeat(60)}` }];
    const p = await post(prefill, '/v1/chat/completions', {
      model: MODEL,
      messages,
      max_tokens: 1,
      kv_transfer_params: NIXL_PREFILL_PARAMS,
    });
    expect(p.status).toBe(200);
    const pBody = JSON.parse(p.text) as Record<string, any>;
    const promptTokens = pBody.usage.prompt_tokens as number;
    expect(pBody.kv_transfer_params.remote_block_ids[0]).toHaveLength(Math.ceil(promptTokens / 16));

    const d = await post(decode, '/v1/chat/completions', {
      model: MODEL,
      messages,
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
      kv_transfer_params: pBody.kv_transfer_params,
    });
    const { events, done } = sseEvents(d.text);
    expect(done).toBe(true);
    expect(events[0]!.choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(events.at(-1)!.usage).toMatchObject({
      prompt_tokens: promptTokens,
      completion_tokens: 5,
      prompt_tokens_details: { cached_tokens: promptTokens },
    });
    await waitFor(
      () => prefill.grpc.getStatus({}),
      (s) => s.heldBlocks === 0,
      10_000,
      'the prefill worker to release its blocks',
    );
  });

  it('recomputes, as vLLM does, when the params are invalid or the blocks are no longer held', async () => {
    const invalid = await post(decode, '/v1/completions', {
      model: MODEL,
      prompt: prompt(100, 10_000),
      max_tokens: 3,
      kv_transfer_params: { do_remote_prefill: true, remote_engine_id: 'nobody' },
    });
    expect(invalid.status).toBe(200);
    expect(JSON.parse(invalid.text).usage).toMatchObject({
      prompt_tokens: 100,
      completion_tokens: 3,
      prompt_tokens_details: { cached_tokens: 0 },
    });

    const tokens = prompt(100, 20_000);
    const p = JSON.parse(
      (
        await post(prefill, '/v1/completions', {
          model: MODEL,
          prompt: tokens,
          max_tokens: 1,
          kv_transfer_params: NIXL_PREFILL_PARAMS,
        })
      ).text,
    ) as Record<string, any>;
    await prefill.grpc.releaseKv({ remoteRequestId: p.kv_transfer_params.remote_request_id });
    const released = await post(decode, '/v1/completions', {
      model: MODEL,
      prompt: tokens,
      max_tokens: 3,
      kv_transfer_params: p.kv_transfer_params,
    });
    expect(released.status).toBe(200);
    expect(JSON.parse(released.text).usage).toMatchObject({
      completion_tokens: 3,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('aborts the engine request when the client disconnects mid-stream', async () => {
    const generated = async () => {
      const text = await (await fetch(`${decode.ready.http}/metrics`)).text();
      return Number(
        text
          .split('\n')
          .find((l) => l.startsWith('vllm:generation_tokens_total'))!
          .split(' ')
          .at(-1),
      );
    };
    const before = await generated();
    const controller = new AbortController();
    const response = await fetch(`${decode.ready.http}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt: prompt(50, 30_000), max_tokens: 5000, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor(
      () => decode.grpc.getStatus({}),
      (s) => s.runningRequests === 0 && s.waitingRequests === 0,
      10_000,
      'the abandoned request to leave the engine',
    );
    // Run to completion it would have generated 5000 tokens.
    expect((await generated()) - before).toBeLessThan(5000);
  });
});
