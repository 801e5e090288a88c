import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORCHESTRATOR_METRICS } from '../orchestrator/metrics/index.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../common/tokenizer/index.ts';
import {
  createFakeCore,
  MODEL,
  postJson,
  reply,
  startFrontend,
  type FakeCore,
  type RunningFrontend,
} from './frontend-harness.ts';
import { sample } from './fakes/metric-sample.ts';

let tokenizer: ModelTokenizer;
let core: FakeCore;
let frontend: RunningFrontend;

beforeAll(async () => {
  tokenizer = await loadModelTokenizer('qwen3');
  core = createFakeCore(
    reply(await tokenizer.tokenizer.encode('ok then', { addSpecialTokens: false }), {
      cachedPromptTokens: 4,
      mode: 'disaggregated',
    }),
  );
  frontend = await startFrontend(core, tokenizer);
});
afterAll(() => frontend?.close());

describe('health and readiness', () => {
  it('answers /health while the process is up', async () => {
    const response = await fetch(`${frontend.url}/health`);
    expect(response.status).toBe(200);
  });

  it('answers /ready from the core: 200 when ready, 503 with the reason when not', async () => {
    core.readiness_ = { ready: true, detail: '2 prefill, 2 decode healthy' };
    const ready = await fetch(`${frontend.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, detail: '2 prefill, 2 decode healthy' });
    core.readiness_ = { ready: false, detail: 'no healthy decode worker' };
    const notReady = await fetch(`${frontend.url}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, detail: 'no healthy decode worker' });
    core.readiness_ = { ready: true, detail: 'ok' };
  });
});

describe('debug routes', () => {
  it('returns the core worker table on /debug/workers', async () => {
    expect(await (await fetch(`${frontend.url}/debug/workers`)).json()).toEqual([
      { name: 'w0', role: 'both', healthy: true },
    ]);
  });

  it('dry-runs a chat body on /debug/route: tokenized as a request would be, explained, nothing sent', async () => {
    const calls = core.calls.length;
    const body = { model: MODEL, messages: [{ role: 'user', content: 'route me' }], user: 'bob' };
    const { status, json } = await postJson(`${frontend.url}/debug/route`, body, { 'x-request-id': 'dry-1' });
    expect(status).toBe(200);
    const expected = await tokenizer.tokenizer.encode('<|im_start|>user\nroute me<|im_end|>\n<|im_start|>assistant\n', {
      addSpecialTokens: false,
    });
    expect(json).toEqual({
      request_id: 'dry-1',
      model: MODEL,
      prompt_tokens: expected.length,
      decision: { policy: 'fake', chosen: 'w0', promptTokens: expected.length, sessionKey: 'bob' },
    });
    expect(core.calls.length).toBe(calls);
  });

  it('dry-runs a completion body and validates it exactly as /v1/completions does', async () => {
    const ok = await postJson(`${frontend.url}/debug/route`, { model: MODEL, prompt: [1, 2, 3] });
    expect(ok.json.prompt_tokens).toBe(3);
    const bad = await postJson(`${frontend.url}/debug/route`, { model: MODEL, prompt: 'x', max_tokens: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('max_tokens');
    const unknown = await postJson(`${frontend.url}/debug/route`, { model: 'nope', prompt: 'x' });
    expect(unknown.status).toBe(404);
  });
});

describe('/metrics', () => {
  it('exposes every orchestrator metric name, and the traffic it saw', async () => {
    const before = sample(await frontend.metrics.render(), 'tandem_prompt_tokens_total') ?? 0;
    const prompt = [9707, 11, 1879, 0, 9707];
    for (let i = 0; i < 3; i++)
      expect((await postJson(`${frontend.url}/v1/completions`, { model: MODEL, prompt, stream: i === 0 })).status).toBe(
        200,
      );
    await postJson(`${frontend.url}/v1/completions`, { model: 'nope', prompt: 'x' });

    const response = await fetch(`${frontend.url}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    for (const name of Object.values(ORCHESTRATOR_METRICS))
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    expect(sample(text, 'tandem_requests_total{outcome="success",mode="disaggregated"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'tandem_requests_total{outcome="rejected",mode="none"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tandem_time_to_first_token_seconds_count{mode="disaggregated"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'tandem_inter_token_latency_seconds_count{mode="disaggregated"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'tandem_e2e_request_latency_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'tandem_prompt_tokens_total')! - before).toBe(3 * prompt.length);
    expect(sample(text, 'tandem_cached_prompt_tokens_total')).toBeGreaterThanOrEqual(3 * 4);
    expect(sample(text, 'tandem_generation_tokens_total')).toBeGreaterThanOrEqual(3 * 2);
    expect(sample(text, 'tandem_request_prompt_tokens_count')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'tandem_queue_depth')).toBe(0);
  });
});
