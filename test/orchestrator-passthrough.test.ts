import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startFakeVllmServer,
  type FakeVllmRequest,
  type FakeVllmScript,
  type FakeVllmServer,
} from './fakes/fake-vllm-server.ts';
import {
  allHealthy,
  requestLogs,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';

/**
 * The orchestrator in front of vLLM servers passes every request through (DESIGN.md, "Two ways
 * through the front door"), driven with the official `openai` client against recording fake vLLM
 * servers over real sockets, aggregated and disaggregated (NIXL): each body reaches the engine
 * with every field the client sent (plus only the served model, the usage option and
 * kv_transfer_params), and each answer reaches the client exactly as the engine wrote it,
 * streamed and not.
 */

const SERVED = 'org/served';
const CREATED = 1_700_000_123;

/** One scripted chat answer: the chunks vLLM streams, the whole body it answers unstreamed. */
function chatScript(
  id: string,
  choices: readonly {
    content?: string;
    reasoning?: string;
    toolCalls?: { id: string; name: string; args: string[] }[];
    logprobs?: unknown;
    finish: string;
  }[],
  usage = { prompt_tokens: 21, completion_tokens: 7, total_tokens: 28, prompt_tokens_details: { cached_tokens: 16 } },
): FakeVllmScript {
  const head = { id, object: 'chat.completion.chunk', created: CREATED, model: SERVED };
  const chunks: Record<string, unknown>[] = [];
  for (const [index] of choices.entries())
    chunks.push({
      ...head,
      choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    });
  for (const [index, c] of choices.entries()) {
    if (c.reasoning)
      chunks.push({
        ...head,
        choices: [{ index, delta: { reasoning_content: c.reasoning }, logprobs: null, finish_reason: null }],
      });
    for (const word of c.content?.split(/(?<= )/) ?? [])
      chunks.push({
        ...head,
        choices: [{ index, delta: { content: word }, logprobs: c.logprobs ?? null, finish_reason: null }],
      });
    for (const [i, call] of (c.toolCalls ?? []).entries()) {
      chunks.push({
        ...head,
        choices: [
          {
            index,
            delta: {
              tool_calls: [{ id: call.id, type: 'function', index: i, function: { name: call.name, arguments: '' } }],
            },
            logprobs: null,
            finish_reason: null,
          },
        ],
      });
      for (const args of call.args)
        chunks.push({
          ...head,
          choices: [
            {
              index,
              delta: { tool_calls: [{ index: i, function: { arguments: args } }] },
              logprobs: null,
              finish_reason: null,
            },
          ],
        });
    }
    chunks.push({
      ...head,
      choices: [{ index, delta: { content: '' }, logprobs: null, finish_reason: c.finish, stop_reason: null }],
    });
  }
  const whole = {
    id,
    object: 'chat.completion',
    created: CREATED,
    model: SERVED,
    choices: choices.map((c, index) => ({
      index,
      message: {
        role: 'assistant',
        content: c.content ?? null,
        ...(c.reasoning ? { reasoning_content: c.reasoning } : {}),
        tool_calls: (c.toolCalls ?? []).map((t) => ({
          id: t.id,
          type: 'function',
          function: { name: t.name, arguments: t.args.join('') },
        })),
      },
      logprobs: c.logprobs ?? null,
      finish_reason: c.finish,
      stop_reason: null,
    })),
    usage,
    prompt_logprobs: null,
    kv_transfer_params: null,
  };
  return { chunks, usage, whole };
}

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const CALL = { id: 'chatcmpl-tool-1', name: 'get_weather', args: ['{"city": ', '"Paris"}'] };
const TOP_LOGPROBS = {
  content: [
    {
      token: 'Hi',
      logprob: -0.1,
      bytes: [72, 105],
      top_logprobs: [
        { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
        { token: 'Hello', logprob: -2.5, bytes: null },
        { token: 'Hey', logprob: -3, bytes: null },
      ],
    },
  ],
};

/** What the fake answers, by what the request asks for. */
function script(_path: string, body: Record<string, unknown>): FakeVllmScript | undefined {
  const messages = body.messages as { role: string }[] | undefined;
  if (!messages) return undefined;
  if (body.tools && messages.at(-1)?.role === 'tool')
    return chatScript('chatcmpl-final', [{ content: 'It is 18 degrees in Paris.', finish: 'stop' }]);
  if (body.tools)
    return chatScript('chatcmpl-call', [
      { reasoning: 'The user wants the weather.', toolCalls: [CALL], finish: 'tool_calls' },
    ]);
  if (body.response_format)
    return chatScript('chatcmpl-json', [{ content: '{"city": "Paris", "country": "France"}', finish: 'stop' }]);
  if (body.logprobs)
    return chatScript('chatcmpl-logprobs', [{ content: 'Hi', logprobs: TOP_LOGPROBS, finish: 'length' }]);
  if (body.n === 2)
    return chatScript('chatcmpl-n', [
      { content: 'First answer.', finish: 'stop' },
      { content: 'Second answer.', finish: 'stop' },
    ]);
  return chatScript('chatcmpl-plain', [{ content: 'A plain answer here.', finish: 'stop' }]);
}

/** The client's request, each a case run streamed and not. */
const conversation = [{ role: 'user' as const, content: "What's the weather in Paris?" }];
const CASES: { name: string; body: Record<string, unknown> }[] = [
  {
    name: 'a tool call',
    body: {
      model: 'Qwen/Qwen3-8B',
      messages: conversation,
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      chat_template_kwargs: { enable_thinking: true },
    },
  },
  {
    name: 'the tool result and the final answer',
    body: {
      model: 'Qwen/Qwen3-8B',
      messages: [
        ...conversation,
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: CALL.id, type: 'function', function: { name: CALL.name, arguments: '{"city": "Paris"}' } },
          ],
        },
        { role: 'tool', tool_call_id: CALL.id, content: '{"temperature_c": 18}' },
      ],
      tools: [WEATHER_TOOL],
    },
  },
  {
    name: 'response_format json_schema',
    body: {
      model: 'Qwen/Qwen3-8B',
      messages: conversation,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'place',
          strict: true,
          schema: {
            type: 'object',
            properties: { city: { type: 'string' }, country: { type: 'string' } },
            required: ['city', 'country'],
          },
        },
      },
    },
  },
  {
    name: 'logprobs with top_logprobs 3',
    body: { model: 'Qwen/Qwen3-8B', messages: conversation, logprobs: true, top_logprobs: 3, max_completion_tokens: 1 },
  },
  {
    name: 'n 2, top_k and penalties',
    body: {
      model: 'Qwen/Qwen3-8B',
      messages: conversation,
      n: 2,
      top_k: 20,
      min_p: 0.05,
      presence_penalty: 0.5,
      frequency_penalty: 0.25,
      repetition_penalty: 1.1,
      seed: 7,
      logit_bias: { '100': -5 },
    },
  },
  {
    name: 'no model',
    body: { messages: conversation, temperature: 0.7, a_field_tandem_never_heard_of: { kept: ['verbatim'] } },
  },
  {
    name: 'an image part',
    body: {
      model: 'Qwen/Qwen3-8B',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'text', text: 'Be brief.' },
          ],
        },
      ],
    },
  },
];

/** The body less what Tandem adds to it. */
function clientPart(body: Record<string, unknown>): Record<string, unknown> {
  const { model: _m, stream_options: _s, kv_transfer_params: _k, stream: _st, ...rest } = body;
  return rest;
}

function expectForwarded(received: FakeVllmRequest, sent: Record<string, unknown>, stream: boolean): void {
  expect(received.path).toBe('/v1/chat/completions');
  expect(clientPart(received.body)).toEqual(clientPart(sent));
  expect(received.body.model).toBe(SERVED);
  expect(received.body.stream).toBe(stream);
  if (stream) expect(received.body.stream_options).toEqual({ ...(sent.stream_options as object), include_usage: true });
  else expect(received.body).not.toHaveProperty('stream_options');
}

async function streamed(client: OpenAI, body: Record<string, unknown>): Promise<unknown[]> {
  const chunks: unknown[] = [];
  const stream = await client.chat.completions.create({ ...body, stream: true } as never);
  for await (const chunk of stream as unknown as AsyncIterable<unknown>) chunks.push(chunk);
  return chunks;
}

describe.each(['aggregated', 'disaggregated (NIXL)'] as const)('pass-through to vLLM, %s', (mode) => {
  let servers: FakeVllmServer[];
  let running: RunningOrchestrator;
  let client: OpenAI;
  /** Where the client's request lands: the one server, or the decode server. */
  let engine: FakeVllmServer;
  let prefill: FakeVllmServer | undefined;

  beforeAll(async () => {
    const n = mode === 'aggregated' ? 1 : 2;
    servers = await Promise.all(Array.from({ length: n }, () => startFakeVllmServer({ servedModel: SERVED })));
    for (const s of servers) s.behaviour.script = script;
    const workers =
      n === 1
        ? [{ name: 'v0', backend: 'vllm-http', address: servers[0]!.url }]
        : [
            { name: 'p0', role: 'prefill', backend: 'vllm-http', address: servers[0]!.url },
            { name: 'd0', role: 'decode', backend: 'vllm-http', address: servers[1]!.url },
          ];
    running = await startOrchestrator(testConfig(workers, n === 1 ? {} : { disaggregation: { mode: 'always' } }));
    await allHealthy(
      running,
      workers.map((w) => w.name),
    );
    engine = servers.at(-1)!;
    prefill = n === 2 ? servers[0] : undefined;
    client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  afterAll(async () => {
    await running?.close();
    for (const s of servers ?? []) await s.close();
  });

  /** The NIXL prefill of the same body: max_tokens 1, not streamed, no stream_options, do_remote_decode; every other field intact. */
  function expectPrefilled(sent: Record<string, unknown>, at: number): void {
    if (!prefill) return;
    const id = engine.requests[at]!.headers['x-request-id'];
    const p = prefill.requests.find((r) => r.headers['x-request-id'] === id);
    if (!p) {
      // One token to generate: nothing to hand off, served aggregated on the decode worker.
      expect(sent.max_completion_tokens).toBe(1);
      return;
    }
    const { max_tokens: _mt, max_completion_tokens: _mct, ...rest } = clientPart(sent);
    const { max_tokens, max_completion_tokens, ...got } = clientPart(p.body);
    expect(got).toEqual(rest);
    expect(max_tokens).toBe(1);
    if ('max_completion_tokens' in sent) expect(max_completion_tokens).toBe(1);
    expect(p.body).toMatchObject({ stream: false, model: SERVED, kv_transfer_params: { do_remote_decode: true } });
    expect(p.body).not.toHaveProperty('stream_options');
    // The decode gets the prefill's kv_transfer_params verbatim.
    expect(engine.requests.find((r) => r.headers['x-request-id'] === id)!.body.kv_transfer_params).toEqual({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: [[1, 2, 3]],
      remote_engine_id: 'engine-p',
      remote_request_id: 'req-p',
      remote_host: 'localhost',
      remote_port: 5600,
      tp_size: 1,
    });
  }

  it.each(CASES)(
    'passes $name through unstreamed: every field to the engine, its answer to the client as it wrote it',
    async ({ body }) => {
      const at = engine.requests.length;
      const answer = await client.chat.completions.create(body as never);
      const received = engine.requests[at]!;
      expectForwarded(received, body, false);
      expectPrefilled(body, at);
      expect(answer).toEqual(script(received.path, received.body)!.whole);
    },
  );

  it.each(CASES)(
    'passes $name through streamed: every chunk as the engine wrote it, no usage chunk the client did not ask for',
    async ({ body }) => {
      const at = engine.requests.length;
      const chunks = await streamed(client, body);
      const received = engine.requests[at]!;
      expectForwarded(received, { ...body, stream: true }, true);
      expectPrefilled(body, at);
      expect(chunks).toEqual(script(received.path, received.body)!.chunks);
    },
  );

  it('runs the whole tool-calling conversation: tool call, tool result, final answer', async () => {
    const first = await client.chat.completions.create({
      model: 'Qwen/Qwen3-8B',
      messages: conversation,
      tools: [WEATHER_TOOL],
    });
    const call = first.choices[0]!.message.tool_calls![0]! as {
      id: string;
      function: { name: string; arguments: string };
    };
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city": "Paris"}' });
    expect((first.choices[0]!.message as { reasoning_content?: string }).reasoning_content).toBe(
      'The user wants the weather.',
    );
    const final = await client.chat.completions.create({
      model: 'Qwen/Qwen3-8B',
      messages: [
        ...conversation,
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: '{"temperature_c": 18}' },
      ],
      tools: [WEATHER_TOOL],
    });
    expect(final.choices[0]!.message.content).toBe('It is 18 degrees in Paris.');
    const log = requestLogs(running, engine.requests.at(-1)!.headers['x-request-id'] as string)[0];
    expect(log).toMatchObject({ mode: mode === 'aggregated' ? 'aggregated' : 'disaggregated' });
  });

  it('gives the usage chunk to a client that asked for it, with the engine cached tokens', async () => {
    const chunks = (await streamed(client, {
      model: 'Qwen/Qwen3-8B',
      messages: conversation,
      stream_options: { include_usage: true },
    })) as { choices: unknown[]; usage?: unknown }[];
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { completion_tokens: 7, prompt_tokens_details: { cached_tokens: 16 } },
    });
  });
});

describe('an older vLLM (no token_ids, no return_token_ids), CR line ends', () => {
  let server: FakeVllmServer;
  let running: RunningOrchestrator;
  beforeAll(async () => {
    server = await startFakeVllmServer({ servedModel: SERVED });
    running = await startOrchestrator(testConfig([{ name: 'v0', backend: 'vllm-http', address: server.url }]));
    await allHealthy(running, ['v0']);
  });
  afterAll(async () => {
    await running?.close();
    await server?.close();
  });

  it('streams a completion to the end with its usage, counting tokens without ids', async () => {
    server.behaviour.omitTokenIds = true;
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.completions.create({
      model: 'Qwen/Qwen3-8B',
      prompt: 'Count for me:',
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices.map((c) => c.text).join('');
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('t2000t2001t2002t2003t2004');
    expect(usage).toMatchObject({ completion_tokens: 5, total_tokens: 5 + 'Count for me:'.length });
    const body = server.requests.at(-1)!.body;
    expect(body).not.toHaveProperty('return_token_ids');
    expect(body.prompt).toBe('Count for me:');
    const id = server.requests.at(-1)!.headers['x-request-id'] as string;
    expect(requestLogs(running, id)[0]).toMatchObject({ mode: 'aggregated', completionTokens: 5 });
  });

  it('keeps the connection to the engine open across streamed requests (reads each stream to its end)', async () => {
    server.behaviour.omitTokenIds = false;
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const before = server.generationConnections();
    for (let i = 0; i < 10; i++) {
      const stream = await client.completions.create({
        model: 'Qwen/Qwen3-8B',
        prompt: `one ${i}`,
        max_tokens: 3,
        stream: true,
      });
      for await (const _ of stream);
      await server.settled(server.requests.length - 1);
    }
    // Ten requests one after another: closing each stream's connection would take about one per request.
    expect(server.generationConnections() - before).toBeLessThanOrEqual(2);
  });

  it('reads a stream whose lines end in CR alone', async () => {
    server.behaviour.script = (_path, body) =>
      body.messages
        ? { ...chatScript('chatcmpl-cr', [{ content: 'Carriage returns only.', finish: 'stop' }]), lineEnd: '\r' }
        : undefined;
    const client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const chunks = await streamed(client, { messages: conversation });
    expect(chunks).toEqual(chatScript('chatcmpl-cr', [{ content: 'Carriage returns only.', finish: 'stop' }]).chunks);
    server.behaviour.script = null;
  });
});
