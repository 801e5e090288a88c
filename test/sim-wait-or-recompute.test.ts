import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LATENCIES } from '../bench/sim/options.ts';
import { decodeStepSeconds, engineProfile, kvCapacityBlocks, prefillSeconds } from '../common/profiles/index.ts';
import { prefillSecondsPerToken } from '../orchestrator/routing/cost-model.ts';
import { simulateSmall, traceFile } from './sim-harness.ts';

/**
 * The shipped dispatcher under the simulator (two Qwen3-8B workers on H100s, kv policy, precise
 * index), on a scenario checked by hand against the cost model's one rule: a request goes to the
 * worker holding its prefix when the wait there (the prefill queued ahead of it) is shorter than
 * recomputing the prefix elsewhere, and elsewhere when it is longer.
 *
 *   t = 0       W: S + q0     warms one worker H with the 6,000-token prefix S (both idle: a tie)
 *   t = 1500    B: S + N new  goes to H (it holds S): H now has N tokens of prefill queued
 *   t = 1502    C: S + q      wait on H = N x the per-token prefill rate, against recomputing
 *                             S + q on the idle worker O instead of q alone on H
 */
const S = 6000;
const Q = 200;
const range = (length: number, from: number) => Array.from({ length }, (_, i) => from + i);
const prefix = range(S, 1000);
const profile = engineProfile('h100-sxm', 'qwen3-8b');
/** What going elsewhere costs in recompute, s: the whole prompt on O against the uncached part on H. */
const recompute = prefillSeconds(profile, S + Q) - prefillSeconds(profile, S + Q, S);
const { dispatchMs, tokenMs } = DEFAULT_LATENCIES;

/**
 * W, B and C as a trace, simulated: W (S + q0, one output token) at t = 0, B (S + `bNewTokens`,
 * `bOutputTokens` out) at 1500 ms, C (S + q, one output token) at 1502 ms; `orchestrator` is that
 * config section.
 */
function simulateWBC(bNewTokens: number, bOutputTokens: number, orchestrator: Record<string, unknown> = {}) {
  const trace = traceFile([
    { arrivalMs: 0, prompt: [...prefix, ...range(Q, 20_000)], outputTokens: 1 },
    { arrivalMs: 1500, prompt: [...prefix, ...range(bNewTokens, 30_000)], outputTokens: bOutputTokens },
    { arrivalMs: 1502, prompt: [...prefix, ...range(Q, 25_000)], outputTokens: 1 },
  ]);
  cleanups.push(trace.cleanup);
  return simulateSmall({
    workload: 'trace',
    params: { file: trace.path },
    qps: null,
    workers: 2,
    config: { routing: { policy: 'kv', index_mode: 'precise' }, orchestrator },
  });
}
const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((c) => c()));

const scenario = (queuedTokens: number) => simulateWBC(queuedTokens, 1);

describe('the dispatcher in the simulator: wait for the prefix holder or recompute elsewhere', () => {
  it('waits for the busy prefix holder when its queue is shorter than the recompute', async () => {
    const queued = 2000;
    const wait = queued * prefillSecondsPerToken(profile);
    expect(wait).toBeLessThan(recompute / 2); // by hand: 0.063 s against 0.19 s
    const s = (await scenario(queued)).summary;
    expect(s.requests).toMatchObject({ completed: 3, failed: 0 });
    // B and C both found S cached on H (W computed it): 2 x 6,000 cached tokens.
    expect(s.prefix_cache.hit_rate! * s.prompt_tokens).toBeCloseTo(2 * S, 6);
    // And waiting paid: the median TTFT (B's and C's, sharing one step on H) beats C's TTFT on O.
    const onOther = dispatchMs + prefillSeconds(profile, S + Q) * 1000 + tokenMs;
    expect(s.ttft_ms!.p50).toBeLessThan(onOther);
  });

  it("recomputes the prefix on the idle worker when the holder's queue is longer than the recompute", async () => {
    const queued = 16_000;
    const wait = queued * prefillSecondsPerToken(profile);
    expect(wait).toBeGreaterThan(2 * recompute); // by hand: 0.50 s against 0.19 s
    const s = (await scenario(queued)).summary;
    expect(s.requests).toMatchObject({ completed: 3, failed: 0 });
    // Only B found S cached; C computed all of S + q on O.
    expect(s.prefix_cache.hit_rate! * s.prompt_tokens).toBeCloseTo(S, 6);
    // C alone on the idle O: dispatch + the roofline's prefill of S + q + delivery, exactly; W took
    // the same on H at t = 0 (same lengths), and B longer: the median is that figure.
    expect(s.ttft_ms!.p50).toBeCloseTo(dispatchMs + prefillSeconds(profile, S + Q) * 1000 + tokenMs, 6);
  });
});

/**
 * Past capacity, the door: the same holder H, now past its capacity while the idle worker O has
 * room. H is still the cheapest by cost (its queue is empty), so C waits at the door for H rather
 * than recomputing S on O, and goes to H once B ends.
 *
 *   t = 0       W: S + q0         warms H with S
 *   t = 1500    B: S + q, 300 out goes to H and stays in flight for 300 decode steps
 *   t = 1502    C: S + q'         H is past capacity: (a) one request in flight is its bound, or
 *                                 (b) B's blocks + C's 13 new ones pass H's KV share, while C's
 *                                 388 on O would not
 */
const pastCapacity = (dispatch: Record<string, number>) =>
  simulateWBC(Q, 300, { dispatch, admission: { queue_timeout_s: 10 } });
/** B's 300 decode steps, alone on H, at least (s): C cannot start on H before. */
const bDecodes = 300 * decodeStepSeconds(profile, 1, S + Q);

describe('the dispatcher in the simulator: past capacity, wait at the door for the cheapest worker', () => {
  for (const [name, dispatch] of [
    ['its in-flight bound', { max_inflight_per_worker: 1 }],
    // B holds ceil(6,200 / 16) = 388 blocks and more as it decodes; C adds 13 on H, 388 on O.
    ['its share of the KV cache', { max_kv_usage: 395 / kvCapacityBlocks(profile, 16) }],
  ] as const) {
    it(`holds the request while the prefix holder is at ${name}, then serves it there`, async () => {
      const s = (await pastCapacity(dispatch)).summary;
      expect(s.requests).toMatchObject({ completed: 3, failed: 0 });
      // B and C both found S cached on H: C was not sent to O, which would have recomputed S.
      expect(s.prefix_cache.hit_rate! * s.prompt_tokens).toBeCloseTo(2 * S, 6);
      // C waited for B to end: its TTFT is past B's decode time.
      expect(bDecodes).toBeGreaterThan(1);
      expect(s.ttft_ms!.max).toBeGreaterThan(bDecodes * 1000);
    });
  }
});
