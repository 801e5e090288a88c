import { describe, expect, it } from 'vitest';
import { createRealClock } from '../../common/clock.ts';
import { isTandemError } from '../../common/errors.ts';
import { decodeStepSeconds, prefillSeconds } from '../../common/profiles/index.ts';
import { collectTokens } from '../../test/fakes/engine-calls.ts';
import type { GenerateRequest } from './engine-api.ts';
import { createSimEngine } from './sim-engine.ts';
import { prompt, profile, type Recorded, record, run, setup } from './testing/sim-harness.ts';

/**
 * The simulated engine serving whole requests: its timing against the roofline, on the virtual
 * and the real clock, what it outputs, and cancellation. Its disaggregation (prefill holds,
 * decode pulls) is sim-engine-disagg.test.ts; its KV events, sim-engine-kv-events.test.ts.
 */

describe('simulated engine timing', () => {
  it('answers one request after exactly the roofline prefill time, then one decode step per token', () => {
    const { clock, engine } = setup();
    const r = record(engine, clock, { requestId: 'a', promptTokenIds: prompt(3000), sampling: { maxTokens: 3 } });
    run(clock);
    expect(r.chunks[0]!.atMs).toBeCloseTo(prefillSeconds(profile, 3000) * 1000, 9);
    expect(r.chunks[1]!.atMs - r.chunks[0]!.atMs).toBeCloseTo(decodeStepSeconds(profile, 1, 3000) * 1000, 9);
    expect(r.chunks[2]!.atMs - r.chunks[1]!.atMs).toBeCloseTo(decodeStepSeconds(profile, 1, 3001) * 1000, 9);
    expect(r.last().finishReason).toBe('length');
  });

  it('runs modelled time faster by the time scale', () => {
    const { clock, engine } = setup({ timeScale: 10 });
    const r = record(engine, clock, { requestId: 'a', promptTokenIds: prompt(3000), sampling: { maxTokens: 1 } });
    run(clock);
    expect(r.chunks[0]!.atMs).toBeCloseTo(prefillSeconds(profile, 3000) * 100, 9);
  });

  it('serves a repeated prompt from the prefix cache, faster by the cached part', () => {
    const { clock, engine } = setup();
    record(engine, clock, { requestId: 'a', promptTokenIds: prompt(3000), sampling: { maxTokens: 1 } });
    run(clock);
    const start = clock.now();
    const r = record(engine, clock, { requestId: 'b', promptTokenIds: prompt(3000), sampling: { maxTokens: 1 } });
    run(clock);
    expect(r.last().usage!.cachedPromptTokens).toBe(2992);
    expect(r.chunks[0]!.atMs - start).toBeCloseTo(prefillSeconds(profile, 3000, 2992) * 1000, 9);
  });

  it('gives the same tokens and timings for the same seeds, and other tokens for other seeds', () => {
    const workload = (seedBase: number) => {
      const { clock, engine } = setup({ numBlocks: 400, maxNumBatchedTokens: 1024 });
      const recorded: Recorded[] = [];
      for (let i = 0; i < 24; i++) {
        clock.setTimer(i * 7.5, () => {
          recorded.push(
            record(engine, clock, {
              requestId: `r${i}`,
              promptTokenIds: prompt(200 + 97 * i, (i % 3) * 50_000),
              sampling: { maxTokens: 20 + i, seed: seedBase + i, temperature: 1 },
            }),
          );
        });
      }
      run(clock);
      return recorded.map((r) => ({ tokens: r.tokens(), times: r.chunks.map((c) => c.atMs), usage: r.last().usage }));
    };
    const first = workload(0);
    expect(workload(0)).toEqual(first);
    const other = workload(1000);
    expect(other.map((r) => r.tokens)).not.toEqual(first.map((r) => r.tokens));
    expect(first.every((r) => r.tokens.length === r.usage!.completionTokens)).toBe(true);
  });
});

describe('simulated engine on the real clock', () => {
  it('streams the same tokens as on a virtual clock, through for-await, at a high time scale', async () => {
    const request = { requestId: 'a', promptTokenIds: prompt(1000), sampling: { maxTokens: 40 } };
    const { clock, engine: virtual } = setup();
    const expected = record(virtual, clock, request);
    run(clock);
    const engine = createSimEngine(
      { gpu: 'h100-sxm', model: 'qwen3-8b', timeScale: 1000 },
      { clock: createRealClock() },
    );
    try {
      const { tokens, finishReason } = await collectTokens(engine.generate(request));
      expect(tokens).toEqual(expected.tokens());
      expect(finishReason).toBe('length');
    } finally {
      await engine.close();
    }
  });
});

describe('simulated engine outputs', () => {
  it('stops on EOS when the model samples it, unless ignore_eos, and never before min_tokens', () => {
    const { clock, engine } = setup({ eosProbability: 0.05 });
    const eos = [151645, 151643];
    const plain = Array.from({ length: 20 }, (_, i) =>
      record(engine, clock, { requestId: `p${i}`, promptTokenIds: prompt(10, i * 10), sampling: { maxTokens: 400 } }),
    );
    const ignoring = Array.from({ length: 5 }, (_, i) =>
      record(engine, clock, {
        requestId: `i${i}`,
        promptTokenIds: prompt(10, i * 10),
        sampling: { maxTokens: 400, ignoreEos: true },
      }),
    );
    const floor = Array.from({ length: 10 }, (_, i) =>
      record(engine, clock, {
        requestId: `m${i}`,
        promptTokenIds: prompt(10, i * 10),
        sampling: { maxTokens: 400, minTokens: 60 },
      }),
    );
    run(clock);
    const stopped = plain.filter((r) => r.last().finishReason === 'stop');
    expect(stopped.length).toBeGreaterThan(15);
    for (const r of stopped) expect(eos).toContain(r.tokens().at(-1));
    for (const r of plain)
      expect(
        r
          .tokens()
          .slice(0, -1)
          .some((t) => eos.includes(t)),
      ).toBe(false);
    for (const r of ignoring) expect(r.tokens()).toHaveLength(400);
    for (const r of floor) expect(r.tokens().length).toBeGreaterThanOrEqual(60);
  });

  it('stops after a stop token id, which ends the output', () => {
    const { clock, engine } = setup();
    const free = record(engine, clock, {
      requestId: 'a',
      promptTokenIds: prompt(10),
      sampling: { maxTokens: 30, seed: 7 },
    });
    run(clock);
    const stopAt = free.tokens()[12]!;
    const stopped = record(engine, clock, {
      requestId: 'b',
      promptTokenIds: prompt(10),
      sampling: { maxTokens: 30, seed: 7, stopTokenIds: [stopAt] },
    });
    run(clock);
    expect(stopped.last().finishReason).toBe('stop');
    expect(stopped.tokens()).toEqual(free.tokens().slice(0, free.tokens().indexOf(stopAt) + 1));
  });

  it('derives greedy tokens from the prompt and sampled ones from the request id', () => {
    const { clock, engine } = setup();
    const greedy = [0, 1].map((i) =>
      record(engine, clock, { requestId: `g${i}`, promptTokenIds: prompt(40), sampling: { maxTokens: 8 } }),
    );
    const sampled = [0, 1].map((i) =>
      record(engine, clock, {
        requestId: `s${i}`,
        promptTokenIds: prompt(40),
        sampling: { maxTokens: 8, temperature: 0.7 },
      }),
    );
    run(clock);
    expect(greedy[0]!.tokens()).toEqual(greedy[1]!.tokens());
    expect(sampled[0]!.tokens()).not.toEqual(sampled[1]!.tokens());
  });

  it('refuses bad input with the right error codes', () => {
    const { engine } = setup({ maxModelLen: 4096 });
    const attempt = (request: Partial<GenerateRequest> & { sampling?: GenerateRequest['sampling'] }) => {
      try {
        engine.generate({ requestId: 'x', promptTokenIds: prompt(10), sampling: { maxTokens: 5 }, ...request });
        return 'accepted';
      } catch (error) {
        return isTandemError(error) ? `${error.code}:${error.param}` : String(error);
      }
    };
    expect(attempt({ promptTokenIds: [] })).toBe('invalid_request:prompt');
    expect(attempt({ promptTokenIds: [1, -2] })).toBe('invalid_request:prompt');
    expect(attempt({ promptTokenIds: [1, 151936] })).toBe('invalid_request:prompt');
    expect(attempt({ promptTokenIds: [1, 2.5] })).toBe('invalid_request:prompt');
    expect(attempt({ sampling: { maxTokens: 0 } })).toBe('invalid_request:max_tokens');
    expect(attempt({ sampling: { maxTokens: -3 } })).toBe('invalid_request:max_tokens');
    expect(attempt({ sampling: { maxTokens: 1e12 } })).toBe('context_length_exceeded:max_tokens');
    expect(attempt({ promptTokenIds: prompt(4000), sampling: { maxTokens: 200 } })).toBe(
      'context_length_exceeded:max_tokens',
    );
    expect(attempt({ sampling: { maxTokens: 5, minTokens: 9 } })).toBe('invalid_request:min_tokens');
    expect(attempt({ requestId: '' })).toBe('invalid_request:request_id');
    expect(attempt({ sampling: undefined as unknown as GenerateRequest['sampling'] })).toBe('invalid_request:sampling');
    expect(attempt({ sampling: { maxTokens: 5, seed: 1.5 } })).toBe('invalid_request:seed');
    expect(attempt({ sampling: { maxTokens: 5, topP: 0 } })).toBe('invalid_request:top_p');
    expect(() =>
      engine.decode({ requestId: 'd', promptTokenIds: prompt(10), sampling: { maxTokens: 5 } } as never),
    ).toThrow(expect.objectContaining({ code: 'invalid_request', param: 'kv_transfer_params' }));
    expect(attempt({})).toBe('accepted');
    expect(attempt({})).toBe('invalid_request:request_id'); // "x" is still running
    expect(engine.status().waitingRequests).toBe(1);
  });
});

describe('simulated engine cancellation', () => {
  it('ends an aborted request with "abort" and frees its blocks', () => {
    const { clock, engine } = setup();
    const r = record(engine, clock, { requestId: 'a', promptTokenIds: prompt(500), sampling: { maxTokens: 1000 } });
    run(clock, 100);
    expect(engine.status().usedBlocks).toBeGreaterThan(0);
    expect(engine.abort('a')).toBe(true);
    expect(engine.abort('a')).toBe(false);
    run(clock);
    expect(r.last().finishReason).toBe('abort');
    expect(r.last().usage!.completionTokens).toBe(r.tokens().length);
    expect(engine.status()).toMatchObject({ usedBlocks: 0, runningRequests: 0, waitingRequests: 0 });
  });

  it('cancels when the caller leaves its for-await loop, when its signal aborts, and at its deadline', async () => {
    const { clock, engine } = setup();
    const stream = engine.generate({ requestId: 'loop', promptTokenIds: prompt(100), sampling: { maxTokens: 1000 } });
    const controller = new AbortController();
    const signalled = record(
      engine,
      clock,
      { requestId: 'signal', promptTokenIds: prompt(100, 1000), sampling: { maxTokens: 1000 } },
      controller.signal,
    );
    const late = record(engine, clock, {
      requestId: 'deadline',
      promptTokenIds: prompt(100, 2000),
      sampling: { maxTokens: 1000 },
      deadlineMs: 200,
    });
    const consumed = (async () => {
      let seen = 0;
      for await (const chunk of stream) {
        seen += chunk.tokenIds.length;
        if (seen >= 5) break;
      }
      return seen;
    })();
    await clock.advanceAsync(100);
    expect(await consumed).toBe(5);
    expect((await stream.result).finishReason).toBe('abort');
    controller.abort();
    expect(signalled.last().finishReason).toBe('abort');
    await clock.advanceAsync(200);
    expect(late.last().finishReason).toBe('abort');
    expect(late.chunks.at(-1)!.atMs).toBe(200);
    expect(engine.status()).toMatchObject({ usedBlocks: 0, runningRequests: 0 });
  });

  it('rejects a cancelled prefill with "cancelled" and one past its deadline with "deadline_exceeded", holding nothing', async () => {
    const { clock, engine } = setup();
    const long = prompt(20_000);
    const aborted = engine.prefill({ requestId: 'a', promptTokenIds: long, sampling: { maxTokens: 10 } });
    const late = engine.prefill({
      requestId: 'b',
      promptTokenIds: prompt(20_000, 100_000),
      sampling: { maxTokens: 10 },
      deadlineMs: 50,
    });
    const rejections = [
      expect(aborted).rejects.toMatchObject({ code: 'cancelled' }),
      expect(late).rejects.toMatchObject({ code: 'deadline_exceeded' }),
    ];
    run(clock, 10);
    expect(engine.abort('a')).toBe(true);
    run(clock);
    await Promise.all(rejections);
    expect(engine.status()).toMatchObject({ usedBlocks: 0, heldBlocks: 0, heldHandoffs: 0 });
  });

  it('releases what a prefill holds when it is cancelled while its last step is in flight', async () => {
    const { clock, engine } = setup();
    const pending = engine.prefill({ requestId: 'a', promptTokenIds: prompt(1000), sampling: { maxTokens: 10 } });
    const rejected = expect(pending).rejects.toMatchObject({ code: 'cancelled' });
    clock.advance(0); // the first (and only) step starts: the core has already created the hold
    expect(engine.status().heldBlocks).toBe(63);
    engine.abort('a');
    await rejected;
    expect(engine.status()).toMatchObject({ usedBlocks: 0, heldBlocks: 0 });
  });

  it('ends every live request when closed', async () => {
    const { clock, engine } = setup();
    const stream = engine.generate({ requestId: 'a', promptTokenIds: prompt(100), sampling: { maxTokens: 1000 } });
    const prefill = engine.prefill({ requestId: 'b', promptTokenIds: prompt(100, 500), sampling: { maxTokens: 10 } });
    await engine.close();
    expect((await stream.result).finishReason).toBe('abort');
    await expect(prefill).rejects.toMatchObject({ code: 'cancelled' });
    expect(clock.pendingTimers()).toBe(0);
    expect(() => engine.generate({ requestId: 'c', promptTokenIds: prompt(5), sampling: { maxTokens: 1 } })).toThrow(
      /closed/,
    );
  });
});
