import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelTokenizer, type ModelTokenizer } from '../common/tokenizer/index.ts';
import {
  createFakeCore,
  hang,
  MODEL,
  postJson,
  reply,
  sseEvents,
  startFrontend,
  type FakeCore,
  type RunningFrontend,
} from './frontend-harness.ts';
import { sample } from './fakes/metric-sample.ts';

let tokenizer: ModelTokenizer;
let core: FakeCore;
let frontend: RunningFrontend;
let client: OpenAI;

beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  core = createFakeCore(hang);
  frontend = await startFrontend(core, tokenizer);
  client = new OpenAI({ baseURL: `${frontend.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => frontend?.close());

const encode = (text: string) => tokenizer.tokenizer.encode(text, { addSpecialTokens: false });

async function metric(series: string): Promise<number> {
  return sample(await frontend.metrics.render(), series) ?? 0;
}

describe('a client that disconnects', () => {
  it('aborts the core when it goes away mid-stream (openai client)', async () => {
    const ids = await encode('one two three four five six seven eight nine ten '.repeat(20));
    core.behaviour = reply(ids, { delayMs: 20 });
    const index = core.calls.length;
    const cancelledBefore = await metric('tandem_requests_total{outcome="cancelled",mode="none"}');
    const stream = await client.completions.create({ model: MODEL, prompt: 'count', max_tokens: 1000, stream: true });
    let chunks = 0;
    for await (const _chunk of stream) {
      if (++chunks === 2) break; // leaving the loop aborts the HTTP request
    }
    await core.abortedCall(index);
    expect(core.calls[index]!.signal.aborted).toBe(true);
    await expect.poll(() => metric('tandem_requests_total{outcome="cancelled",mode="none"}')).toBe(cancelledBefore + 1);
  });

  it('aborts the core when it goes away before the first token (streaming)', async () => {
    core.behaviour = hang;
    const index = core.calls.length;
    const abort = new AbortController();
    const pending = fetch(`${frontend.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true }),
      signal: abort.signal,
    }).catch(() => undefined);
    await core.called(index + 1);
    expect(core.calls[index]!.signal.aborted).toBe(false);
    abort.abort();
    await pending;
    await core.abortedCall(index);
  });

  it('aborts the core when it goes away while waiting for a whole (non-streaming) response', async () => {
    core.behaviour = hang;
    const index = core.calls.length;
    const abort = new AbortController();
    const pending = client.completions
      .create({ model: MODEL, prompt: 'x' }, { signal: abort.signal })
      .catch(() => undefined);
    await core.called(index + 1);
    abort.abort();
    await pending;
    await core.abortedCall(index);
  });

  it('still serves the next client afterwards', async () => {
    core.behaviour = reply(await encode('fine'));
    expect((await client.completions.create({ model: MODEL, prompt: 'x' })).choices[0]!.text).toBe('fine');
  });
});

describe('stop strings', () => {
  const ANSWER = 'The answer is 42. END of story, and more text after it.';

  it('cuts the text before the stop string, aborts the core, and reports its cached tokens', async () => {
    const ids = await encode(ANSWER);
    core.behaviour = reply(ids, { cachedPromptTokens: 5 });
    const index = core.calls.length;
    const completion = await client.completions.create({ model: MODEL, prompt: 'q', stop: ['END'], max_tokens: 100 });
    expect(completion.choices[0]!.text).toBe('The answer is 42. ');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect((completion.choices[0] as unknown as { stop_reason: unknown }).stop_reason).toBe('END');
    expect(core.calls[index]!.signal.aborted).toBe(true);
    // Tokens up to the one that completed "END", not the whole answer.
    const upToStop = await encode('The answer is 42. END');
    expect(completion.usage?.completion_tokens).toBe(upToStop.length);
    expect(completion.usage?.completion_tokens).toBeLessThan(ids.length);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(5);
  });

  it('cuts a streamed answer the same way, with the finish reason on the last choice chunk', async () => {
    core.behaviour = reply(await encode(ANSWER), { cachedPromptTokens: 5 });
    const { text } = await postJson(`${frontend.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: 'user', content: 'q' }],
      stop: 'END',
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = sseEvents(text) as {
      choices: { delta: { content?: string }; finish_reason: string | null; stop_reason?: unknown }[];
      usage?: { prompt_tokens_details: { cached_tokens: number } };
    }[];
    const content = events
      .slice(0, -1)
      .flatMap((e) => e.choices.map((c) => c.delta.content ?? ''))
      .join('');
    expect(content).toBe('The answer is 42. ');
    const last = events.filter((e) => e.choices?.length).at(-1)!;
    expect(last.choices[0]).toMatchObject({ finish_reason: 'stop', stop_reason: 'END' });
    expect(events.at(-2)!.usage?.prompt_tokens_details.cached_tokens).toBe(5);
  });

  it('keeps the stop string with include_stop_str_in_output', async () => {
    core.behaviour = reply(await encode(ANSWER));
    const { json } = await postJson(`${frontend.url}/v1/completions`, {
      model: MODEL,
      prompt: 'q',
      stop: ['END'],
      include_stop_str_in_output: true,
    });
    expect(json.choices[0].text).toBe('The answer is 42. END');
  });

  it('finishes normally when the core throws on abort instead of reporting usage', async () => {
    core.behaviour = reply(await encode(ANSWER), { throwOnAbort: true, cachedPromptTokens: 5 });
    const { status, json } = await postJson(`${frontend.url}/v1/completions`, {
      model: MODEL,
      prompt: 'q',
      stop: ['END'],
    });
    expect(status).toBe(200);
    expect(json.choices[0]).toMatchObject({ text: 'The answer is 42. ', finish_reason: 'stop' });
    expect(json.usage.prompt_tokens_details.cached_tokens).toBe(0); // unknown: the core never said
  });

  it('reports the stop token id that ended a generation as stop_reason', async () => {
    const ids = [...(await encode('Done.')), 151645];
    core.behaviour = reply(ids, { finishReason: 'stop' });
    const { json } = await postJson(`${frontend.url}/v1/completions`, {
      model: MODEL,
      prompt: 'q',
      stop_token_ids: [151645],
    });
    expect(json.choices[0]).toMatchObject({ text: 'Done.', finish_reason: 'stop', stop_reason: 151645 });
  });
});

describe('shutting down', () => {
  it('aborts running requests when the server closes, ending started streams with an error event', async () => {
    const own = createFakeCore(
      reply(await encode('a b c d e f g h i j k l m n o p'), { delayMs: 50, throwOnAbort: true }),
    );
    const server = await startFrontend(own, tokenizer);
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: MODEL, prompt: 'x', stream: true, max_tokens: 100 }),
    });
    const reader = response.body!.getReader();
    await reader.read(); // the stream has started
    const closing = server.app.close();
    let body = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
    await closing;
    expect(own.calls[0]!.signal.aborted).toBe(true);
    expect(body).toContain('"type":"ServiceUnavailableError"');
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
  });
});
