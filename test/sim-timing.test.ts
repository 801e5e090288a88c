import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LATENCIES } from '../bench/sim/options.ts';
import {
  engineProfile,
  forwardSeconds,
  kvBlockBytes,
  linkProfile,
  prefillSeconds,
  transferSeconds,
} from '../common/profiles/index.ts';
import { simulateSmall, traceFile } from './sim-harness.ts';

/**
 * A lone request through the whole simulated path must take exactly what the engine model and
 * the modelled latencies say: nothing else may add time, and nothing may be lost.
 */
const PROMPT = 1000;
const OUTPUT = 20;
const prompt = Array.from({ length: PROMPT }, (_, i) => 100 + ((i * 7919) % 90_000));
const trace = traceFile([{ arrivalMs: 0, prompt, outputTokens: OUTPUT }]);
afterAll(() => trace.cleanup());

const profile = engineProfile('h100-sxm', 'qwen3-8b');
const { dispatchMs, tokenMs } = DEFAULT_LATENCIES;
/** Seconds of decode step i (i >= 1): one sequence whose KV holds the prompt and i - 1 generated tokens. */
const decodeStep = (i: number) =>
  forwardSeconds(profile, { prefill: [], decodeSequences: 1, decodeContextTokens: PROMPT + i - 1 });

describe('a 1-worker simulation', () => {
  it("times a lone request's first token as dispatch + the roofline's prefill + delivery", async () => {
    const result = await simulateSmall({ workload: 'trace', params: { file: trace.path }, qps: null, workers: 1 });
    const s = result.summary;
    expect(s.requests).toMatchObject({ sent: 1, completed: 1, failed: 0 });
    const expectedTtft = dispatchMs + prefillSeconds(profile, PROMPT) * 1000 + tokenMs;
    expect(s.ttft_ms!.p50).toBeCloseTo(expectedTtft, 9);
    // Every later token comes one decode step after the previous one.
    let decodeMs = 0;
    for (let i = 1; i < OUTPUT; i++) decodeMs += decodeStep(i) * 1000;
    expect(s.tpot_ms!.p50).toBeCloseTo(decodeMs / (OUTPUT - 1), 9);
    expect(s.e2e_ms!.p50).toBeCloseTo(expectedTtft + decodeMs, 9);
    expect(s.output_tokens).toBe(OUTPUT);
    expect(s.itl_ms!.count).toBe(OUTPUT - 1);
    expect(s.kv_transfer_bytes).toBe(0);
  });

  it("adds exactly the handoff hops and the link model's pull time when the request is disaggregated", async () => {
    const result = await simulateSmall({
      workload: 'trace',
      params: { file: trace.path },
      qps: null,
      workers: 2,
      prefillWorkers: 1,
      config: { disaggregation: { mode: 'always' } },
    });
    const s = result.summary;
    expect(result.stats.disaggregated).toBe(1);
    const prefillMs = prefillSeconds(profile, PROMPT) * 1000;
    expect(s.ttft_ms!.p50).toBeCloseTo(dispatchMs + prefillMs + tokenMs, 9);
    // The second token: the dispatcher has the prefill's result as the engine settles it (as it has
    // every chunk; the client's tokenMs covers the way out), dispatches the decode, the decode
    // worker pulls all 63 blocks (1000 tokens; none cached there), then one step.
    const blocks = Math.ceil(PROMPT / 16);
    const pullMs = transferSeconds(linkProfile('ib-400g'), blocks * kvBlockBytes(profile.model, 16)) * 1000;
    expect(s.kv_transfer_bytes).toBe(blocks * kvBlockBytes(profile.model, 16));
    const secondGapMs = dispatchMs + pullMs + decodeStep(1) * 1000;
    let rest = 0;
    for (let i = 2; i < OUTPUT; i++) rest += decodeStep(i) * 1000;
    expect(s.e2e_ms!.p50).toBeCloseTo(dispatchMs + prefillMs + tokenMs + secondGapMs + rest, 9);
    expect(s.itl_ms!.max).toBeCloseTo(secondGapMs, 6);
    expect(result.stats.heldHandoffsAtEnd).toBe(0);
  });
});
