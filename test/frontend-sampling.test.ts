import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../workers/process/index.ts';
import { startInProcessWorker } from './fakes/in-process-worker.ts';
import {
  allHealthy,
  complete,
  MODEL,
  startOrchestrator,
  testConfig,
  type RunningOrchestrator,
} from './fakes/orchestrator-harness.ts';

/**
 * The sampling fields and logprobs on Tandem's own engines, end to end: the official `openai`
 * client -> the orchestrator (token-level path) -> an in-process simulated worker over gRPC.
 * top_k, min_p and the penalties are accepted and change the output; logprobs come back in
 * OpenAI's shapes (completions: tokens / token_logprobs / top_logprobs / text_offset; chat:
 * content[] with top_logprobs), one entry per generated token, streamed and not.
 */

let worker: RunningWorker;
let running: RunningOrchestrator;
let client: OpenAI;

beforeAll(async () => {
  worker = await startInProcessWorker({ time_scale: 100 });
  running = await startOrchestrator(
    testConfig([{ name: 'w0', address: worker.addresses.grpc }], { routing: { policy: 'round-robin' } }),
  );
  await allHealthy(running, ['w0']);
  client = new OpenAI({ baseURL: `${running.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await running?.close();
  await worker?.close();
});

const prompt = 'Write a long list of words about serving language models on many machines.';
const text = async (extra: Record<string, unknown>) => {
  const response = await client.completions.create({
    model: MODEL,
    prompt,
    max_tokens: 24,
    temperature: 1,
    seed: 5,
    ignore_eos: true,
    ...extra,
  } as OpenAI.CompletionCreateParamsNonStreaming);
  return response.choices[0]!.text;
};

describe('sampling fields through the frontend (gRPC workers)', () => {
  it('accepts top_k, min_p and the penalties, each changing the output', async () => {
    const greedy = await text({ temperature: 0, logprobs: 0 });
    const wide = await text({ top_k: 32 });
    expect(wide).not.toBe(greedy);
    expect(await text({ top_k: 1 })).toBe(greedy);
    expect(await text({ min_p: 1 })).toBe(greedy);
    for (const penalty of [{ presence_penalty: -2 }, { frequency_penalty: 2 }, { repetition_penalty: 3 }])
      expect(await text({ top_k: 32, ...penalty }), JSON.stringify(penalty)).not.toBe(wide);
  });

  it("answers completions logprobs in OpenAI's shape, one entry per token", async () => {
    const response = await client.completions.create({
      model: MODEL,
      prompt,
      max_tokens: 10,
      logprobs: 2,
      ignore_eos: true,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    const choice = response.choices[0]!;
    const lp = choice.logprobs!;
    expect(lp.tokens).toHaveLength(response.usage!.completion_tokens);
    expect(lp.tokens!.join('')).toBe(choice.text);
    expect(lp.token_logprobs!.every((x) => x <= 0)).toBe(true);
    expect(lp.text_offset![0]).toBe(0);
    expect(lp.text_offset![1]).toBe(lp.tokens![0]!.length);
    for (const top of lp.top_logprobs!) expect(Object.keys(top).length).toBeGreaterThanOrEqual(1);
  });

  it('streams chat logprobs with top_logprobs, every generated token covered', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: prompt }],
      max_tokens: 12,
      logprobs: true,
      top_logprobs: 3,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    const entries: OpenAI.ChatCompletionTokenLogprob[] = [];
    let content = '';
    let completionTokens = 0;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.logprobs?.content) entries.push(...choice.logprobs.content);
      content += choice?.delta.content ?? '';
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    expect(entries).toHaveLength(completionTokens);
    // As in vLLM, a logprob entry names a special token (`<|im_start|>`) that the content skips.
    const spoken = entries
      .map((e) => e.token)
      .join('')
      .replace(/<\|[a-z_]+\|>/g, '');
    expect(spoken).toBe(content);
    for (const e of entries) {
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.bytes).toEqual([...Buffer.from(e.token, 'utf8')]);
    }
  });

  it('refuses top_logprobs without logprobs, and an out-of-range field, naming it', async () => {
    const badTopK = await complete(running.url, { model: MODEL, prompt, top_k: -5 });
    expect(badTopK.status).toBe(400);
    expect(badTopK.json.error.param).toBe('top_k');
    const chat = await fetch(`${running.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], top_logprobs: 2 }),
    });
    expect(chat.status).toBe(400);
    expect(((await chat.json()) as { error: { param: string } }).error.param).toBe('top_logprobs');
  });
});
