import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerFleet, type WorkerProcess } from './fakes/worker-process.ts';

/**
 * Bad input to a running worker's HTTP facade: each gets its 4xx in vLLM's error shape
 * `{"error": {message, type, param, code}}`, and the worker keeps serving.
 */
const fleet = createWorkerFleet();
let worker: WorkerProcess;
const MODEL = 'Qwen/Qwen3-8B';

beforeAll(async () => {
  // A small body limit: a body just past it still fits the socket buffers, so the client reads the 413 rather than an EPIPE.
  worker = await fleet.start(['--time-scale', '50', '--max-model-len', '512', '--http-max-body-bytes', '16384']);
});

afterAll(async () => {
  await fleet.stopAll();
});

async function send(path: string, body: string, method = 'POST') {
  const response = await fetch(`${worker.ready.http}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-request-id': 'bad-1' },
    ...(method === 'POST' ? { body } : {}),
  });
  const text = await response.text();
  let json: Record<string, any> | undefined;
  try {
    json = JSON.parse(text) as Record<string, any>;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, requestId: response.headers.get('x-request-id') };
}

const completion = (fields: Record<string, unknown>) =>
  JSON.stringify({ model: MODEL, prompt: 'Hello', max_tokens: 4, ...fields });
const chat = (fields: Record<string, unknown>) =>
  JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, ...fields });
const tokens = (n: number) => Array.from({ length: n }, (_, i) => 100 + i);

const BAD: [string, string, string, number, string, string | null][] = [
  // name, path, body, status, error type, param
  ['malformed JSON', '/v1/completions', '{"model": "Qwen/Qwen3-8B", "prompt": ', 400, 'BadRequestError', null],
  ['a body that is not an object', '/v1/completions', '[1, 2, 3]', 400, 'BadRequestError', null],
  ['no body', '/v1/completions', '', 400, 'BadRequestError', null],
  ['a prompt of the wrong type', '/v1/completions', completion({ prompt: 42 }), 400, 'BadRequestError', 'prompt'],
  [
    'max_tokens of the wrong type',
    '/v1/completions',
    completion({ max_tokens: 'ten' }),
    400,
    'BadRequestError',
    'max_tokens',
  ],
  ['an empty text prompt', '/v1/completions', completion({ prompt: '' }), 400, 'BadRequestError', 'prompt'],
  ['an empty token prompt', '/v1/completions', completion({ prompt: [] }), 400, 'BadRequestError', 'prompt'],
  [
    'token ids that are not integers',
    '/v1/completions',
    completion({ prompt: [1, 2.5, 3] }),
    400,
    'BadRequestError',
    'prompt',
  ],
  [
    'a token id outside the vocabulary',
    '/v1/completions',
    completion({ prompt: [1, 999_999_999] }),
    400,
    'BadRequestError',
    'prompt',
  ],
  [
    'a prompt longer than the context',
    '/v1/completions',
    completion({ prompt: tokens(600) }),
    400,
    'BadRequestError',
    'prompt',
  ],
  [
    'a text prompt longer than the context',
    '/v1/completions',
    completion({ prompt: 'word '.repeat(2000) }),
    400,
    'BadRequestError',
    'prompt',
  ],
  ['negative max_tokens', '/v1/completions', completion({ max_tokens: -1 }), 400, 'BadRequestError', 'max_tokens'],
  ['zero max_tokens', '/v1/completions', completion({ max_tokens: 0 }), 400, 'BadRequestError', 'max_tokens'],
  [
    'absurd max_tokens',
    '/v1/completions',
    completion({ max_tokens: 1_000_000_000 }),
    400,
    'BadRequestError',
    'max_tokens',
  ],
  [
    'max_tokens beyond any integer',
    '/v1/completions',
    completion({ max_tokens: 1e300 }),
    400,
    'BadRequestError',
    'max_tokens',
  ],
  [
    'prompt plus max_tokens past the context',
    '/v1/completions',
    completion({ prompt: tokens(500), max_tokens: 20 }),
    400,
    'BadRequestError',
    'max_tokens',
  ],
  [
    'min_tokens above max_tokens',
    '/v1/completions',
    completion({ min_tokens: 10 }),
    400,
    'BadRequestError',
    'min_tokens',
  ],
  ['a negative temperature', '/v1/completions', completion({ temperature: -1 }), 400, 'BadRequestError', 'temperature'],
  ['top_p of 0', '/v1/completions', completion({ top_p: 0 }), 400, 'BadRequestError', 'top_p'],
  ['stop of the wrong type', '/v1/completions', completion({ stop: 5 }), 400, 'BadRequestError', 'stop'],
  [
    'stream_options without stream',
    '/v1/completions',
    completion({ stream_options: { include_usage: true } }),
    400,
    'BadRequestError',
    'stream_options',
  ],
  ['n greater than 1', '/v1/completions', completion({ n: 2 }), 400, 'BadRequestError', 'n'],
  [
    'kv_transfer_params that are not an object',
    '/v1/completions',
    completion({ kv_transfer_params: 'yes' }),
    400,
    'BadRequestError',
    'kv_transfer_params',
  ],
  ['an unknown model', '/v1/completions', completion({ model: 'gpt-4' }), 404, 'NotFoundError', 'model'],
  ['an unknown model (chat)', '/v1/chat/completions', chat({ model: 'gpt-4' }), 404, 'NotFoundError', 'model'],
  ['no messages', '/v1/chat/completions', chat({ messages: [] }), 400, 'BadRequestError', 'messages'],
  [
    'messages of the wrong type',
    '/v1/chat/completions',
    chat({ messages: 'hello' }),
    400,
    'BadRequestError',
    'messages',
  ],
  [
    'a message without a role',
    '/v1/chat/completions',
    chat({ messages: [{ content: 'hi' }] }),
    400,
    'BadRequestError',
    'messages[0].role',
  ],
  [
    'a non-text content part',
    '/v1/chat/completions',
    chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    400,
    'BadRequestError',
    'messages[0].content[0].type',
  ],
  [
    'chat messages longer than the context',
    '/v1/chat/completions',
    chat({ messages: [{ role: 'user', content: 'word '.repeat(2000) }] }),
    400,
    'BadRequestError',
    'messages',
  ],
  [
    'a body past the size limit',
    '/v1/completions',
    completion({ prompt: 'x'.repeat(20_000) }),
    413,
    'BadRequestError',
    null,
  ],
];

describe('bad requests to the HTTP facade', () => {
  it.each(BAD)('answers %s with its 4xx in vLLM error shape', async (_name, path, body, status, type, param) => {
    const answer = await send(path, body);
    expect(answer.status).toBe(status);
    expect(answer.json).toBeDefined();
    expect(answer.json!.error).toMatchObject({ type, code: status });
    expect(typeof answer.json!.error.message).toBe('string');
    expect(answer.json!.error.message.length).toBeGreaterThan(0);
    if (param !== null) expect(answer.json!.error.param).toBe(param);
    expect(answer.requestId).toBe('bad-1');
    // Still serving after every one of them.
    expect((await fetch(`${worker.ready.http}/health`)).status).toBe(200);
  });

  it('answers unknown routes with 404 in the same shape', async () => {
    const answer = await send('/v1/embeddings', completion({}));
    expect(answer.status).toBe(404);
    expect(answer.json!.error.type).toBe('NotFoundError');
  });

  it('keeps serving good requests afterwards, and never crashed', async () => {
    const good = await send('/v1/completions', completion({ max_tokens: 3 }));
    expect(good.status).toBe(200);
    expect(good.json!.usage.completion_tokens).toBe(3);
    const chatAnswer = await send('/v1/chat/completions', chat({}));
    expect(chatAnswer.status).toBe(200);
    expect(chatAnswer.json!.choices[0].message.role).toBe('assistant');
    expect(worker.child.exitCode).toBeNull();
    expect(worker.stderr()).not.toMatch(/"level":(50|60)/);
  });
});

describe("the facade's other routes", () => {
  it('lists the served model with its context length', async () => {
    const models = (await (await fetch(`${worker.ready.http}/v1/models`)).json()) as Record<string, any>;
    expect(models.object).toBe('list');
    expect(models.data).toEqual([
      expect.objectContaining({ id: MODEL, object: 'model', owned_by: 'vllm', max_model_len: 512 }),
    ]);
  });

  it('answers /health with 200 and an empty body', async () => {
    const health = await fetch(`${worker.ready.http}/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('');
  });

  it("exposes vLLM's metric names on /metrics", async () => {
    const text = await (await fetch(`${worker.ready.http}/metrics`)).text();
    for (const name of [
      'vllm:num_requests_running',
      'vllm:num_requests_waiting',
      'vllm:kv_cache_usage_perc',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
      'vllm:num_preemptions_total',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:inter_token_latency_seconds_bucket',
    ]) {
      expect(text).toMatch(new RegExp(`^${name}\\{[^}]*model_name="Qwen/Qwen3-8B"[^}]*\\} `, 'm'));
    }
    expect(text).toMatch(/^vllm:cache_config_info\{[^}]*block_size="16"[^}]*\} 1$/m);
    expect(text).toMatch(/^vllm:request_success_total\{finished_reason="length"[^}]*\} [1-9]/m);
  });
});
