import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TandemError } from '../common/errors.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../common/tokenizer/index.ts';
import {
  createFakeCore,
  hang,
  MODEL,
  postJson,
  reply,
  sseEvents,
  startFrontend,
  type Behaviour,
  type FakeCore,
  type RunningFrontend,
} from './frontend-harness.ts';

let tokenizer: ModelTokenizer;
let answerIds: number[];
beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  answerIds = await tokenizer.tokenizer.encode('All good here.', { addSpecialTokens: false });
});

const C = '/v1/completions';
const CHAT = '/v1/chat/completions';
const user = (content: unknown) => ({ model: MODEL, messages: [{ role: 'user', content }] });

interface BadCase {
  readonly name: string;
  readonly path?: string;
  /** A string is sent as is (raw body); anything else as JSON. */
  readonly body: unknown;
  readonly status: number;
  readonly param?: string;
  readonly message?: RegExp;
}

const BAD_REQUESTS: BadCase[] = [
  { name: 'malformed JSON', body: '{"model": "x", ', status: 400, message: /not valid JSON/ },
  { name: 'a JSON array body', body: '[1, 2]', status: 400, message: /JSON object/ },
  { name: 'an empty body', body: '', status: 400, message: /JSON object/ },
  { name: 'a JSON string body', body: '"hello"', status: 400 },
  { name: 'model of the wrong type', body: { model: 42, prompt: 'x' }, status: 400, param: 'model' },
  {
    name: 'unknown model',
    body: { model: 'gpt-17', prompt: 'x' },
    status: 404,
    param: 'model',
    message: /does not exist/,
  },
  { name: 'missing prompt', body: { model: MODEL }, status: 400, param: 'prompt' },
  { name: 'empty prompt', body: { model: MODEL, prompt: '' }, status: 400, param: 'prompt' },
  { name: 'empty token list', body: { model: MODEL, prompt: [] }, status: 400, param: 'prompt' },
  { name: 'prompt of the wrong type', body: { model: MODEL, prompt: { text: 'x' } }, status: 400, param: 'prompt' },
  {
    name: 'batched prompts',
    body: { model: MODEL, prompt: ['a', 'b'] },
    status: 400,
    param: 'prompt',
    message: /one prompt per request/,
  },
  {
    name: 'token id out of vocabulary',
    body: { model: MODEL, prompt: [1, 999_999_999] },
    status: 400,
    param: 'prompt',
  },
  { name: 'negative token id', body: { model: MODEL, prompt: [1, -1] }, status: 400, param: 'prompt' },
  { name: 'fractional token id', body: { model: MODEL, prompt: [1.5] }, status: 400, param: 'prompt' },
  {
    name: 'oversized prompt (token ids over the context)',
    body: { model: MODEL, prompt: Array.from({ length: 33_000 }, () => 9707) },
    status: 400,
    param: 'prompt',
    message: /maximum context length is 32768/,
  },
  { name: 'max_tokens = 0', body: { model: MODEL, prompt: 'x', max_tokens: 0 }, status: 400, param: 'max_tokens' },
  {
    name: 'negative max_tokens',
    body: { model: MODEL, prompt: 'x', max_tokens: -5 },
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'fractional max_tokens',
    body: { model: MODEL, prompt: 'x', max_tokens: 1.5 },
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'max_tokens as a string',
    body: { model: MODEL, prompt: 'x', max_tokens: '10' },
    status: 400,
    param: 'max_tokens',
  },
  {
    name: 'max_tokens past the context',
    body: { model: MODEL, prompt: 'x', max_tokens: 40_000 },
    status: 400,
    param: 'max_tokens',
    message: /maximum context length/,
  },
  {
    name: 'temperature out of range',
    body: { model: MODEL, prompt: 'x', temperature: 5 },
    status: 400,
    param: 'temperature',
  },
  { name: 'top_p = 0', body: { model: MODEL, prompt: 'x', top_p: 0 }, status: 400, param: 'top_p' },
  { name: 'fractional seed', body: { model: MODEL, prompt: 'x', seed: 1.5 }, status: 400, param: 'seed' },
  { name: 'stream as a string', body: { model: MODEL, prompt: 'x', stream: 'yes' }, status: 400, param: 'stream' },
  {
    name: 'stop list too long',
    body: { model: MODEL, prompt: 'x', stop: Array.from({ length: 17 }, (_, i) => `s${i}`) },
    status: 400,
    param: 'stop',
    message: /at most 16/,
  },
  { name: 'empty stop string', body: { model: MODEL, prompt: 'x', stop: [''] }, status: 400, param: 'stop[0]' },
  {
    name: 'stop string too long',
    body: { model: MODEL, prompt: 'x', stop: 'y'.repeat(300) },
    status: 400,
    param: 'stop',
  },
  { name: 'stop of the wrong type', body: { model: MODEL, prompt: 'x', stop: 5 }, status: 400, param: 'stop' },
  {
    name: 'too many stop_token_ids',
    body: { model: MODEL, prompt: 'x', stop_token_ids: Array.from({ length: 65 }, (_, i) => i) },
    status: 400,
    param: 'stop_token_ids',
  },
  {
    name: 'stop token id out of vocabulary',
    body: { model: MODEL, prompt: 'x', stop_token_ids: [999_999_999] },
    status: 400,
    param: 'stop_token_ids',
  },
  {
    name: 'min_tokens above max_tokens',
    body: { model: MODEL, prompt: 'x', max_tokens: 4, min_tokens: 9 },
    status: 400,
    param: 'min_tokens',
  },
  {
    name: 'stream_options without stream',
    body: { model: MODEL, prompt: 'x', stream_options: { include_usage: true } },
    status: 400,
    param: 'stream_options',
  },
  { name: 'chat: missing messages', path: CHAT, body: { model: MODEL }, status: 400, param: 'messages' },
  { name: 'chat: no messages', path: CHAT, body: { model: MODEL, messages: [] }, status: 400, param: 'messages' },
  {
    name: 'chat: unknown role',
    path: CHAT,
    body: { model: MODEL, messages: [{ role: 'wizard', content: 'x' }] },
    status: 400,
    param: 'messages[0].role',
  },
  { name: 'chat: content of the wrong type', path: CHAT, body: user(7), status: 400, param: 'messages[0].content' },
  { name: 'chat: user content missing', path: CHAT, body: user(null), status: 400, param: 'messages[0].content' },
  {
    name: 'chat: chat_template_kwargs not an object',
    path: CHAT,
    body: { ...user('x'), chat_template_kwargs: 'thinking' },
    status: 400,
    param: 'chat_template_kwargs',
  },
  {
    name: 'chat: continue_final_message with add_generation_prompt (its default, as in vLLM)',
    path: CHAT,
    body: { ...user('x'), continue_final_message: true },
    status: 400,
    param: 'continue_final_message',
  },
  {
    name: 'chat: prompt over the context',
    path: CHAT,
    body: user('word '.repeat(40_000)),
    status: 400,
    param: 'messages',
    message: /maximum context length/,
  },
  {
    name: 'chat: max_completion_tokens = 0',
    path: CHAT,
    body: { ...user('x'), max_completion_tokens: 0 },
    status: 400,
    param: 'max_completion_tokens',
  },
  { name: 'body over the size limit', body: { model: MODEL, prompt: 'z'.repeat(300_000) }, status: 413 },
];

describe('bad requests', () => {
  let core: FakeCore;
  let frontend: RunningFrontend;
  beforeAll(async () => {
    core = createFakeCore(reply(answerIds));
    frontend = await startFrontend(core, tokenizer, { max_body_bytes: 256 * 1024 });
  });
  afterAll(() => frontend?.close());

  it.each(BAD_REQUESTS)('answers $name with $status in OpenAI error shape, and keeps serving', async (bad) => {
    const calls = core.calls.length;
    const response = await postJson(`${frontend.url}${bad.path ?? C}`, bad.body);
    expect(response.status, response.text).toBe(bad.status);
    expect(Object.keys(response.json)).toEqual(['error']);
    expect(Object.keys(response.json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(response.json.error).toMatchObject({
      message: expect.any(String),
      type: expect.any(String),
      code: bad.status,
    });
    expect(response.json.error.param).toBe(bad.param ?? null);
    if (bad.message) expect(response.json.error.message).toMatch(bad.message);
    expect(core.calls.length).toBe(calls); // never reached the core
    const good = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'still there?' });
    expect(good.status).toBe(200);
    expect(good.json.choices[0].text).toBe('All good here.');
  });

  it('answers unknown routes with 404 in OpenAI error shape', async () => {
    const response = await postJson(`${frontend.url}/v1/embeddings`, { model: MODEL, input: 'x' });
    expect(response.status).toBe(404);
    expect(response.json.error.type).toBe('NotFoundError');
  });

  it('counts every refused request as rejected', async () => {
    const metrics = await frontend.metrics.render();
    const line = metrics.split('\n').find((l) => l.startsWith('tandem_requests_total{outcome="rejected",mode="none"}'));
    expect(Number(line?.split(' ').at(-1))).toBeGreaterThanOrEqual(BAD_REQUESTS.length);
  });
});

/** Fields Tandem's own engines do not honour: accepted here, refused only if routing picks such an engine (test/orchestrator-passthrough.test.ts). */
const NOT_TOKEN_LEVEL: { name: string; path?: string; body: unknown; param: string }[] = [
  { name: 'n = 2', body: { model: MODEL, prompt: 'x', n: 2 }, param: 'n' },
  { name: 'logit_bias', body: { model: MODEL, prompt: 'x', logit_bias: { '11': 5 } }, param: 'logit_bias' },
  {
    name: 'response_format json_object',
    body: { model: MODEL, prompt: 'x', response_format: { type: 'json_object' } },
    param: 'response_format',
  },
  { name: 'an unknown field', body: { model: MODEL, prompt: 'x', frobnicate: true }, param: 'frobnicate' },
  {
    name: 'chat: an image content part',
    path: CHAT,
    body: user([
      { type: 'text', text: 'see' },
      { type: 'image_url', image_url: { url: 'http://x/y.png' } },
    ]),
    param: 'messages[0].content[1].type',
  },
  {
    name: 'chat: tools',
    path: CHAT,
    body: { ...user('x'), tools: [{ type: 'function', function: { name: 'f' } }] },
    param: 'tools',
  },
];

describe('requests only an HTTP engine can run', () => {
  let core: FakeCore;
  let frontend: RunningFrontend;
  beforeAll(async () => {
    core = createFakeCore(reply(answerIds));
    frontend = await startFrontend(core, tokenizer);
  });
  afterAll(() => frontend?.close());

  it.each(NOT_TOKEN_LEVEL)(
    'hands $name to the core with the body verbatim and the refusal a token-level engine would answer',
    async (c) => {
      const response = await postJson(`${frontend.url}${c.path ?? C}`, c.body);
      expect(response.status, response.text).toBe(200);
      const { request } = core.calls.at(-1)!;
      expect(request.openai?.body).toEqual(c.body);
      expect(request.tokenLevelRefusal).toMatchObject({ code: 'invalid_request', param: c.param });
      expect(request.tokenLevelRefusal!.message.startsWith(`${c.param}: `)).toBe(true);
    },
  );

  it('serves a request without a model with the served one, as vLLM does', async () => {
    const response = await postJson(`${frontend.url}${C}`, { prompt: 'x' });
    expect(response.status, response.text).toBe(200);
    expect(response.json.model).toBe(MODEL);
    expect(core.calls.at(-1)!.request).toMatchObject({ model: MODEL, tokenLevelRefusal: undefined });
  });
});

describe('errors from the core', () => {
  let core: FakeCore;
  let frontend: RunningFrontend;
  let client: OpenAI;
  beforeAll(async () => {
    core = createFakeCore(reply(answerIds));
    frontend = await startFrontend(core, tokenizer, { request_timeout_s: 0.3 });
    client = new OpenAI({ baseURL: `${frontend.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(() => frontend?.close());

  const failing = (error: unknown, afterTokens: readonly number[] = []): Behaviour =>
    async function* () {
      if (afterTokens.length) yield { kind: 'tokens', tokenIds: afterTokens };
      throw error;
    };

  it('answers 429 with Retry-After when the core is saturated before the first token', async () => {
    core.behaviour = failing(new TandemError('rate_limited', 'every worker is full', { retryAfterS: 7 }));
    const error = await client.completions.create({ model: MODEL, prompt: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('7');
    const streamed = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x', stream: true });
    expect(streamed.status).toBe(429); // a stream that never started is a plain HTTP error
    expect(streamed.headers.get('retry-after')).toBe('7');
    expect(streamed.json.error).toMatchObject({ type: 'RateLimitError', code: 429, message: 'every worker is full' });
  });

  it('answers 503 with Retry-After when no worker can serve', async () => {
    core.behaviour = failing(new TandemError('unavailable', 'no healthy decode worker', { retryAfterS: 2 }));
    const response = await postJson(`${frontend.url}${CHAT}`, user('x'));
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(response.json.error.type).toBe('ServiceUnavailableError');
  });

  it('ends a started stream with an error event and [DONE] when the core fails after the first token', async () => {
    core.behaviour = failing(new TandemError('upstream_error', 'decode worker w3 went away'), answerIds.slice(0, 2));
    const response = await postJson(`${frontend.url}${CHAT}`, { ...user('x'), stream: true });
    expect(response.status).toBe(200);
    const events = sseEvents(response.text);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.at(-2)).toEqual({
      error: { message: 'decode worker w3 went away', type: 'BadGatewayError', param: null, code: 502 },
    });
    const text = (events.slice(0, -2) as { choices: { delta: { content?: string } }[] }[])
      .map((e) => e.choices[0]!.delta.content ?? '')
      .join('');
    expect(text).toBe(await tokenizer.tokenizer.decode(answerIds.slice(0, 2), { skipSpecialTokens: true }));
  });

  it('answers a non-streaming request that fails mid-generation with the error status', async () => {
    core.behaviour = failing(new TandemError('upstream_error', 'decode worker w3 went away'), answerIds.slice(0, 2));
    const response = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x' });
    expect(response.status).toBe(502);
    expect(response.json.error.message).toBe('decode worker w3 went away');
  });

  it('answers 504 when a request outlives request_timeout_s, and aborts the core', async () => {
    core.behaviour = hang;
    const before = core.calls.length;
    const response = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x' });
    expect(response.status).toBe(504);
    await core.abortedCall(before);
  });

  it('answers 500 (not a crash) when the core throws something that is not a TandemError, and keeps serving', async () => {
    core.behaviour = failing(new RangeError('bug in the core'));
    const response = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x' });
    expect(response.status).toBe(500);
    expect(response.json.error.type).toBe('InternalServerError');
    core.behaviour = reply(answerIds);
    expect((await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x' })).status).toBe(200);
  });
});

describe('admission and authentication', () => {
  it('refuses with 429 and Retry-After when the admission queue is full', async () => {
    const core = createFakeCore(hang);
    const frontend = await startFrontend(core, tokenizer, {
      admission: { max_inflight: 1, max_queued: 0, retry_after_s: 4 },
    });
    const first = new AbortController();
    try {
      const running = fetch(`${frontend.url}${C}`, {
        method: 'POST',
        body: JSON.stringify({ model: MODEL, prompt: 'x' }),
        signal: first.signal,
      }).catch(() => undefined);
      await core.called(1);
      const refused = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'y' });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('4');
      expect(core.calls).toHaveLength(1);
      first.abort();
      await running;
      await core.abortedCall(0);
    } finally {
      first.abort();
      await frontend.close();
    }
  });

  it('requires the API key on /v1 and /debug when one is set, and not on /health or /metrics', async () => {
    const core = createFakeCore(reply(answerIds));
    const frontend = await startFrontend(core, tokenizer, { api_key: 'sk-tandem' });
    try {
      const denied = await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x' });
      expect(denied.status).toBe(401);
      expect(denied.json.error.type).toBe('AuthenticationError');
      expect(
        (await postJson(`${frontend.url}${C}`, { model: MODEL, prompt: 'x' }, { authorization: 'Bearer wrong' }))
          .status,
      ).toBe(401);
      expect((await fetch(`${frontend.url}/debug/workers`)).status).toBe(401);
      const client = new OpenAI({ baseURL: `${frontend.url}/v1`, apiKey: 'sk-tandem', maxRetries: 0 });
      expect((await client.completions.create({ model: MODEL, prompt: 'x' })).choices[0]!.text).toBe('All good here.');
      expect((await fetch(`${frontend.url}/health`)).status).toBe(200);
      expect((await fetch(`${frontend.url}/metrics`)).status).toBe(200);
      expect(core.calls).toHaveLength(1);
    } finally {
      await frontend.close();
    }
  });
});
