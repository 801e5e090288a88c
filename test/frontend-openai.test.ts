import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadModelTokenizer, type ModelTokenizer } from '../common/tokenizer/index.ts';
import {
  createFakeCore,
  MODEL,
  postJson,
  reply,
  sseEvents,
  startFrontend,
  type FakeCore,
  type RunningFrontend,
} from './frontend-harness.ts';

const ANSWER = 'Hello from Tandem — 你好 🌍!';

let tokenizer: ModelTokenizer;
let answerIds: number[];
let core: FakeCore;
let frontend: RunningFrontend;
let client: OpenAI;

beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  answerIds = await tokenizer.tokenizer.encode(ANSWER, { addSpecialTokens: false });
  core = createFakeCore(reply(answerIds));
  frontend = await startFrontend(core, tokenizer);
  client = new OpenAI({ baseURL: `${frontend.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await frontend?.close();
});
beforeEach(() => {
  core.behaviour = reply(answerIds, { cachedPromptTokens: 3, mode: 'aggregated' });
});

describe('the official openai client against the frontend', () => {
  it('gets a completion with usage and cached tokens (not streaming)', async () => {
    const completion = await client.completions.create({ model: MODEL, prompt: 'Say hello', max_tokens: 32 });
    expect(completion.object).toBe('text_completion');
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.choices[0]!.text).toBe(ANSWER);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    const promptIds = await tokenizer.tokenizer.encode('Say hello', { addSpecialTokens: true });
    expect(completion.usage).toMatchObject({
      prompt_tokens: promptIds.length,
      completion_tokens: answerIds.length,
      total_tokens: promptIds.length + answerIds.length,
    });
    expect(
      (completion.usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details?.cached_tokens,
    ).toBe(3);
    const call = core.calls.at(-1)!;
    expect(call.request.promptTokenIds).toEqual(promptIds);
    expect(call.request.sampling.maxTokens).toBe(32);
  });

  it('streams a completion, chunk by chunk, with include_usage', async () => {
    core.behaviour = reply(answerIds, { cachedPromptTokens: 2, perEvent: 2 });
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'Say hello',
      max_tokens: 32,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    const text = chunks.flatMap((c) => c.choices.map((choice) => choice.text)).join('');
    expect(text).toBe(ANSWER);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: answerIds.length });
    expect(
      (last.usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details?.cached_tokens,
    ).toBe(2);
    const finishing = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finishing).toHaveLength(1);
    expect(finishing[0]!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('gets a chat completion whose prompt is the Qwen3 template, tokenized', async () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hi?' },
    ];
    const completion = await client.chat.completions.create({ model: MODEL, messages, max_completion_tokens: 64 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: ANSWER });
    const expectedPrompt =
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n';
    const expectedIds = await tokenizer.tokenizer.encode(expectedPrompt, { addSpecialTokens: false });
    expect(core.calls.at(-1)!.request.promptTokenIds).toEqual(expectedIds);
    expect(completion.usage?.prompt_tokens).toBe(expectedIds.length);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
  });

  it('streams a chat completion: role first, content deltas, finish reason, then usage', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Hi?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    const content = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('');
    expect(content).toBe(ANSWER);
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    expect(withChoices.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(withChoices.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null)).toBe(true);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
  });

  it('sends a prompt given as token ids to the core unchanged', async () => {
    const completion = await client.completions.create({ model: MODEL, prompt: [9707, 11, 1879], max_tokens: 4 });
    expect(core.calls.at(-1)!.request.promptTokenIds).toEqual([9707, 11, 1879]);
    expect(completion.usage?.prompt_tokens).toBe(3);
  });

  it('lists the core models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    expect(models.data[0]).toMatchObject({ object: 'model', owned_by: 'tandem', max_model_len: 32768 });
  });

  it('passes vLLM sampling extensions and the session key through to the core', async () => {
    const body = {
      model: MODEL,
      prompt: 'x',
      max_tokens: 20,
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
      stop_token_ids: [151645],
      ignore_eos: true,
      min_tokens: 3,
      user: 'alice',
    };
    expect((await postJson(`${frontend.url}/v1/completions`, body)).status).toBe(200);
    expect(core.calls.at(-1)!.request).toMatchObject({
      model: MODEL,
      sessionKey: 'alice',
      sampling: {
        maxTokens: 20,
        temperature: 0.5,
        topP: 0.9,
        seed: 7,
        stopTokenIds: [151645],
        ignoreEos: true,
        minTokens: 3,
      },
    });
    await postJson(`${frontend.url}/v1/completions`, body, { 'x-session-id': 'conversation-9' });
    expect(core.calls.at(-1)!.request.sessionKey).toBe('conversation-9');
  });

  it('defaults max_tokens to 16 for completions and to the rest of the context for chat', async () => {
    await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt: 'x' });
    expect(core.calls.at(-1)!.request.sampling.maxTokens).toBe(16);
    await postJson(`${frontend.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x' }] });
    const call = core.calls.at(-1)!;
    expect(call.request.sampling.maxTokens).toBe(32768 - call.request.promptTokenIds.length);
  });
});

describe('the stream on the wire', () => {
  it('is text/event-stream with data: lines and a final [DONE]', async () => {
    const response = await fetch(`${frontend.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', stream: true }),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await response.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    for (const block of text.split('\n\n').filter(Boolean)) expect(block.startsWith('data: ')).toBe(true);
    const events = sseEvents(text);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.slice(0, -1).every((e) => (e as { usage?: unknown }).usage === undefined)).toBe(true); // no include_usage
  });

  it('puts running usage on every chunk with continuous_usage_stats', async () => {
    const { text } = await postJson(`${frontend.url}/v1/completions`, {
      model: MODEL,
      prompt: 'x',
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    const chunks = sseEvents(text).slice(0, -1) as { usage: { completion_tokens: number } }[];
    const counts = chunks.map((c) => c.usage.completion_tokens);
    expect(counts.at(-1)).toBe(answerIds.length);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);
  });
});

describe('X-Request-Id', () => {
  it('echoes the client id and hands it to the core', async () => {
    const { headers } = await postJson(
      `${frontend.url}/v1/completions`,
      { model: MODEL, prompt: 'x' },
      { 'x-request-id': 'req-abc-123' },
    );
    expect(headers.get('x-request-id')).toBe('req-abc-123');
    expect(core.calls.at(-1)!.request.requestId).toBe('req-abc-123');
  });

  it('generates one when absent and uses it in the response id', async () => {
    const { headers, json } = await postJson(`${frontend.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: 'x' }],
    });
    const id = headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json.id).toBe(`chatcmpl-${id}`);
    expect(core.calls.at(-1)!.request.requestId).toBe(id);
  });

  it('replaces an unusable id (too long, or with spaces) with a generated one', async () => {
    for (const unusable of ['x'.repeat(300), 'has spaces']) {
      const { headers } = await postJson(
        `${frontend.url}/v1/completions`,
        { model: MODEL, prompt: 'x' },
        { 'x-request-id': unusable },
      );
      expect(headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('is echoed on streams, errors and every other route', async () => {
    const stream = await fetch(`${frontend.url}/v1/completions`, {
      method: 'POST',
      headers: { 'x-request-id': 's-1' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', stream: true }),
    });
    expect(stream.headers.get('x-request-id')).toBe('s-1');
    await stream.text();
    const bad = await postJson(
      `${frontend.url}/v1/completions`,
      { model: 'nope', prompt: 'x' },
      { 'x-request-id': 'e-1' },
    );
    expect(bad.status).toBe(404);
    expect(bad.headers.get('x-request-id')).toBe('e-1');
    const health = await fetch(`${frontend.url}/health`, { headers: { 'x-request-id': 'h-1' } });
    expect(health.headers.get('x-request-id')).toBe('h-1');
  });
});
