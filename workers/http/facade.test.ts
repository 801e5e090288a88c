import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../common/clock.ts';
import { silentLogger } from '../../common/log.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../../common/tokenizer/index.ts';
import { QWEN3_FIXTURES } from '../../common/tokenizer/qwen3-template.fixtures.ts';
import { createSimEngine, type SimEngine } from '../engine/index.ts';
import { createWorkerMetrics } from '../metrics/index.ts';
import { createKvPeers, type KvPeers } from '../server/index.ts';
import { createHttpFacade, type HttpFacade } from './index.ts';

/**
 * The facade in process (fastify inject) over a simulated engine running 1000x faster than
 * modelled: response shapes, return_token_ids, stop strings and stop ids, usage while streaming,
 * and a prefill + decode on one worker (its own hold, pulled in process).
 */
let engine: SimEngine;
let peers: KvPeers;
let facade: HttpFacade;
let tokenizer: ModelTokenizer;
const MODEL = 'Qwen/Qwen3-8B';

beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  engine = createSimEngine({ timeScale: 1000, numBlocks: 256, engineId: 'sim-test' }, { clock: realClock });
  peers = createKvPeers({ engine, timeoutMs: 1000 });
  facade = createHttpFacade({
    engine,
    peers,
    modelTokenizer: tokenizer,
    tokenizer: tokenizer.tokenizer,
    metrics: createWorkerMetrics({
      info: engine.info,
      status: () => engine.status(),
      modelName: MODEL,
      clock: realClock,
    }),
    modelNames: [MODEL, 'qwen3-8b'],
    self: () => ({ host: '127.0.0.1', port: 1 }),
    loadFailurePolicy: 'recompute',
    holdTimeoutMs: 480_000,
    clock: realClock,
    logger: silentLogger,
    maxBodyBytes: 1024 * 1024,
  });
  await facade.app.ready();
});

afterAll(async () => {
  await facade?.close();
  peers?.close();
  await engine?.close();
});

async function post(
  path: string,
  body: Record<string, unknown>,
): Promise<{ status: number; json: Record<string, any>; text: string }> {
  const response = await facade.app.inject({ method: 'POST', url: path, payload: body });
  let json: Record<string, any> = {};
  try {
    json = response.json();
  } catch {
    // SSE
  }
  return { status: response.statusCode, json, text: response.body };
}

const events = (text: string) =>
  text
    .split('\n\n')
    .filter((b) => b.startsWith('data: ') && b !== 'data: [DONE]')
    .map((b) => JSON.parse(b.slice(6)) as Record<string, any>);

describe("the facade's chat prompt", () => {
  // What a token-level engine can run: the fixtures' conversations (tool calls and results,
  // reasoning, thinking switches, continue_final_message) without tool declarations, documents
  // or media parts. The facade renders them as vLLM does (the renderer the fixtures check), the
  // orchestrator's router too (common/openai/prompt.ts), so an engine runs the ids the router hashed.
  const runnable = QWEN3_FIXTURES.filter((f) => f.complete).map((f) => {
    const { tools: _tools, documents: _documents, ...request } = f.request;
    return [f.name, request] as const;
  });
  it.each(runnable)('is the prompt vLLM renders: %s', async (_name, request) => {
    const { status, json } = await post('/v1/chat/completions', {
      model: MODEL,
      ...request,
      max_tokens: 1,
      return_token_ids: true,
    });
    expect(status).toBe(200);
    const rendered = tokenizer.chatTemplate!.renderRequest(request);
    if (!rendered.ok) throw rendered.error;
    const expected = await tokenizer.tokenizer.encode(rendered.value.text, { addSpecialTokens: false });
    expect(json.prompt_token_ids).toEqual(expected);
  });
});

describe('the vLLM facade in process', () => {
  it('returns the prompt and output token ids with return_token_ids, and the text they decode to', async () => {
    const { status, json } = await post('/v1/completions', {
      model: MODEL,
      prompt: 'The quick brown fox',
      max_tokens: 6,
      temperature: 0,
      return_token_ids: true,
    });
    expect(status).toBe(200);
    const choice = json.choices[0];
    expect(choice.prompt_token_ids).toEqual(
      await tokenizer.tokenizer.encode('The quick brown fox', { addSpecialTokens: true }),
    );
    expect(choice.token_ids).toHaveLength(6);
    expect(choice.text).toBe(await tokenizer.tokenizer.decode(choice.token_ids, { skipSpecialTokens: true }));
    expect(json.usage).toEqual({
      prompt_tokens: choice.prompt_token_ids.length,
      completion_tokens: 6,
      total_tokens: choice.prompt_token_ids.length + 6,
      prompt_tokens_details: { cached_tokens: 0 },
    });
  });

  it('puts chat prompt ids at the top level and output ids in the choice', async () => {
    const { json } = await post('/v1/chat/completions', {
      model: 'qwen3-8b',
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 3,
      return_token_ids: true,
    });
    expect(json.object).toBe('chat.completion');
    expect(json.model).toBe('qwen3-8b');
    expect(json.prompt_token_ids.length).toBe(json.usage.prompt_tokens);
    expect(json.choices[0].token_ids).toHaveLength(3);
    expect(json.choices[0].message.role).toBe('assistant');
  });

  it('ends at a stop string with finish_reason stop and the string as stop_reason', async () => {
    const prompt = [11, 22, 33, 44, 55];
    const free = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 12,
      temperature: 0,
      return_token_ids: true,
    });
    const text: string = free.json.choices[0].text;
    // A stop string made of the text of tokens 4 and 5 (non-empty).
    const before = await tokenizer.tokenizer.decode(free.json.choices[0].token_ids.slice(0, 3), {
      skipSpecialTokens: true,
    });
    const stop = text.slice(before.length, before.length + 4).trim() || text.slice(before.length, before.length + 4);
    const at = text.indexOf(stop);
    const stopped = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 12,
      temperature: 0,
      stop: [stop],
    });
    expect(stopped.json.choices[0]).toMatchObject({
      finish_reason: 'stop',
      stop_reason: stop,
      text: text.slice(0, at),
    });
    expect(stopped.json.usage.completion_tokens).toBeLessThan(12);
    expect(engine.status().runningRequests).toBe(0);
  });

  it('ends at a stop token id, reporting it as stop_reason', async () => {
    const prompt = [99, 98, 97, 96];
    const free = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 8,
      temperature: 0,
      return_token_ids: true,
    });
    const third: number = free.json.choices[0].token_ids[2];
    const stopped = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 8,
      temperature: 0,
      stop_token_ids: [third],
      return_token_ids: true,
    });
    expect(stopped.json.choices[0]).toMatchObject({
      finish_reason: 'stop',
      stop_reason: third,
      token_ids: free.json.choices[0].token_ids.slice(0, 3),
    });
  });

  it('streams running usage on every chunk with continuous_usage_stats, and the total last', async () => {
    const { text } = await post('/v1/completions', {
      model: MODEL,
      prompt: [5, 6, 7, 8],
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    const chunks = events(text);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(chunks.slice(0, -1).map((c) => c.usage.completion_tokens)).toEqual([1, 2, 3, 4]);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 0 } },
    });
  });

  it('prefills and decodes on one worker, pulling its own hold in process and releasing it', async () => {
    const prompt = Array.from({ length: 100 }, (_, i) => 3000 + i);
    const p = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 1,
      kv_transfer_params: { do_remote_decode: true },
    });
    expect(p.json.kv_transfer_params).toMatchObject({
      remote_engine_id: 'sim-test',
      remote_host: '127.0.0.1',
      remote_port: 1,
    });
    expect(engine.status().heldBlocks).toBe(7);
    const d = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 5,
      kv_transfer_params: p.json.kv_transfer_params,
    });
    // The six full blocks are this engine's own cache hits; the partial seventh is "pulled".
    expect(d.json.usage).toMatchObject({
      prompt_tokens: 100,
      completion_tokens: 5,
      prompt_tokens_details: { cached_tokens: 100 },
    });
    expect(engine.status().heldBlocks).toBe(0);
  });

  it('hands off from a streamed prefill too, in its last chunk', async () => {
    const prompt = Array.from({ length: 40 }, (_, i) => 4000 + i);
    const { text } = await post('/v1/completions', {
      model: MODEL,
      prompt,
      max_tokens: 50,
      stream: true,
      kv_transfer_params: { do_remote_decode: true },
    });
    const chunks = events(text);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.choices[0].finish_reason).toBe('length');
    const params = chunks[0]!.kv_transfer_params as Record<string, any>;
    expect(params.remote_block_ids).toEqual([expect.any(Array)]);
    expect(engine.release(params.remote_request_id).found).toBe(true);
  });
});
