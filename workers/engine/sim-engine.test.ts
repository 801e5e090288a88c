import { describe, expect, it } from 'vitest';
import { createRealClock, createVirtualClock, type VirtualClock } from '../../common/clock.ts';
import { isTandemError } from '../../common/errors.ts';
import { collectTokens } from '../../test/fakes/engine-calls.ts';
import {
  decodeStepSeconds,
  engineProfile,
  kvBlockBytes,
  linkProfile,
  modelProfile,
  prefillSeconds,
  transferSeconds,
} from '../../common/profiles/index.ts';
import type { GenerateRequest, TokenChunk } from './engine-api.ts';
import { createSimEngine, type SimEngine } from './sim-engine.ts';
import type { SimEngineOptions } from './options.ts';

const prompt = (length: number, offset = 0) => Array.from({ length }, (_, i) => offset + i + 1);
const profile = engineProfile('h100-sxm', 'qwen3-8b');

function setup(options: SimEngineOptions = {}) {
  const clock = createVirtualClock();
  const engine = createSimEngine({ gpu: 'h100-sxm', model: 'qwen3-8b', ...options }, { clock });
  return { clock, engine };
}

/** Fires timers up to `untilMs` (default: until none is left before 400 s, short of hold expiry). */
function run(clock: VirtualClock, untilMs = 400_000): void {
  for (let next = clock.nextTimerAt(); next !== undefined && next <= untilMs; next = clock.nextTimerAt())
    clock.advanceTo(next);
}

interface Recorded {
  readonly chunks: { atMs: number; chunk: TokenChunk }[];
  readonly tokens: () => number[];
  readonly last: () => TokenChunk;
}

function record(engine: SimEngine, clock: VirtualClock, request: GenerateRequest, signal?: AbortSignal): Recorded {
  const chunks: { atMs: number; chunk: TokenChunk }[] = [];
  engine.generate(request, { onChunk: (chunk) => chunks.push({ atMs: clock.now(), chunk }), signal });
  return {
    chunks,
    tokens: () => chunks.flatMap((c) => c.chunk.tokenIds),
    last: () => chunks[chunks.length - 1]!.chunk,
  };
}

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

describe('disaggregation inside the engine', () => {
  it("holds a prefill request's blocks until released, idempotently", async () => {
    const { clock, engine } = setup();
    const pending = engine.prefill({ requestId: 'p', promptTokenIds: prompt(1000), sampling: { maxTokens: 50 } });
    run(clock);
    const result = await pending;
    expect(result.finishReason).toBeNull();
    expect(result.handoff).toMatchObject({
      engineId: engine.info.engineId,
      handoffId: 'p',
      numTokens: 1000,
      blockSize: 16,
      blockBytes: kvBlockBytes(modelProfile('qwen3-8b'), 16),
    });
    expect(result.handoff!.blockIds).toHaveLength(63);
    expect(result.handoff!.expiresAtMs).toBeCloseTo(clock.now() + 480_000, -3);
    expect(engine.status()).toMatchObject({ heldBlocks: 63, usedBlocks: 63, heldHandoffs: 1, runningRequests: 0 });
    expect(engine.release('p')).toEqual({ found: true, releasedBlocks: 63 });
    expect(engine.release('p')).toEqual({ found: false, releasedBlocks: 0 });
    expect(engine.status()).toMatchObject({ heldBlocks: 0, usedBlocks: 0, heldHandoffs: 0, cachedBlocks: 62 });
  });

  it('gives a second hold under a still-held request id its own handoff id', async () => {
    const { clock, engine } = setup();
    const first = engine.prefill({ requestId: 'p', promptTokenIds: prompt(100), sampling: { maxTokens: 5 } });
    run(clock);
    const second = engine.prefill({ requestId: 'p', promptTokenIds: prompt(100), sampling: { maxTokens: 5 } });
    run(clock);
    const ids = [(await first).handoff!.handoffId, (await second).handoff!.handoffId];
    expect(ids[0]).toBe('p');
    expect(ids[1]).not.toBe('p');
    expect(engine.status().heldHandoffs).toBe(2);
    for (const id of ids) expect(engine.release(id).found).toBe(true);
    expect(engine.status()).toMatchObject({ heldBlocks: 0, usedBlocks: 0 });
  });

  it('frees held blocks when the hold expires', async () => {
    const { clock, engine } = setup({ kvHoldTimeoutMs: 480_000 });
    const pending = engine.prefill({ requestId: 'p', promptTokenIds: prompt(1000), sampling: { maxTokens: 50 } });
    run(clock, 1000);
    await pending;
    expect(engine.status().heldBlocks).toBe(63);
    clock.advance(470_000);
    expect(engine.status().heldBlocks).toBe(63);
    clock.advance(20_000);
    expect(engine.status()).toMatchObject({ heldBlocks: 0, usedBlocks: 0, heldHandoffs: 0 });
    expect(engine.release('p').found).toBe(false);
  });

  it('holds nothing when the first token already stops the request', async () => {
    const { clock, engine } = setup();
    const probe = record(engine, clock, {
      requestId: 'probe',
      promptTokenIds: prompt(100),
      sampling: { maxTokens: 1 },
    });
    run(clock);
    const pending = engine.prefill({
      requestId: 'p',
      promptTokenIds: prompt(100),
      sampling: { maxTokens: 10, stopTokenIds: probe.tokens() },
    });
    run(clock);
    const result = await pending;
    expect(result).toMatchObject({ finishReason: 'stop', handoff: null, firstTokenId: probe.tokens()[0] });
    expect(engine.status()).toMatchObject({ heldBlocks: 0, usedBlocks: 0 });
  });

  it('pulls only the blocks the decode engine lacks, then decodes what aggregated serving would', async () => {
    const P = setup({ engineId: 'P' });
    const D = setup({ engineId: 'D', kvLink: 'ib-400g' });
    const A = setup({ engineId: 'A' });
    const full = [...prompt(512), ...prompt(488, 7000)];
    // D already caches the first 512 tokens from an earlier request with another ending.
    record(D.engine, D.clock, {
      requestId: 'warm',
      promptTokenIds: [...prompt(512), ...prompt(40, 90_000)],
      sampling: { maxTokens: 1 },
    });
    run(D.clock);
    const pending = P.engine.prefill({ requestId: 'req', promptTokenIds: full, sampling: { maxTokens: 20 } });
    run(P.clock);
    const prefilled = await pending;

    const start = D.clock.now();
    const chunks: { atMs: number; chunk: TokenChunk }[] = [];
    D.engine.decode(
      {
        requestId: 'req',
        promptTokenIds: full,
        sampling: { maxTokens: 20 },
        handoff: prefilled.handoff!,
        firstTokenId: prefilled.firstTokenId,
      },
      { onChunk: (chunk) => chunks.push({ atMs: D.clock.now(), chunk }) },
    );
    run(D.clock);
    expect(P.engine.release(prefilled.handoff!.handoffId).found).toBe(true);
    expect(P.engine.status().heldBlocks).toBe(0);

    const usage = chunks.at(-1)!.chunk.usage!;
    const missingBlocks = Math.ceil(1000 / 16) - 32;
    expect(usage).toMatchObject({
      cachedPromptTokens: 512,
      transferredPromptTokens: 488,
      transferredBlocks: missingBlocks,
      kvRecomputed: false,
      completionTokens: 20,
    });
    expect(usage.transferredBytes).toBe(missingBlocks * kvBlockBytes(modelProfile('qwen3-8b'), 16));
    const pullMs = transferSeconds(linkProfile('ib-400g'), usage.transferredBytes) * 1000;
    expect(chunks[0]!.atMs - start).toBeGreaterThan(pullMs);
    expect(chunks[0]!.atMs - start).toBeLessThan(pullMs + decodeStepSeconds(profile, 1, 1001) * 1000 + 0.01);

    const aggregated = record(A.engine, A.clock, {
      requestId: 'req',
      promptTokenIds: full,
      sampling: { maxTokens: 20 },
    });
    run(A.clock);
    expect([prefilled.firstTokenId, ...chunks.flatMap((c) => c.chunk.tokenIds)]).toEqual(aggregated.tokens());
    expect(D.engine.status().pulledBlocksTotal).toBe(missingBlocks);
  });

  it('recomputes the prompt when the pull cannot happen, or fails if asked to', async () => {
    const P = setup({ engineId: 'P' });
    const D = setup({ engineId: 'D' });
    const pending = P.engine.prefill({ requestId: 'req', promptTokenIds: prompt(2000), sampling: { maxTokens: 5 } });
    run(P.clock);
    const { handoff, firstTokenId } = await pending;
    const request = {
      requestId: 'req',
      promptTokenIds: prompt(2000),
      sampling: { maxTokens: 5 },
      handoff: handoff!,
      firstTokenId,
    };
    expect(() => D.engine.decode({ ...request, pullAvailable: false, loadFailurePolicy: 'fail' })).toThrow(
      expect.objectContaining({ code: 'kv_transfer_failed' }),
    );
    const chunks: { atMs: number; chunk: TokenChunk }[] = [];
    D.engine.decode(
      { ...request, pullAvailable: false },
      { onChunk: (chunk) => chunks.push({ atMs: D.clock.now(), chunk }) },
    );
    run(D.clock);
    expect(chunks.at(-1)!.chunk.usage).toMatchObject({
      kvRecomputed: true,
      transferredBlocks: 0,
      cachedPromptTokens: 0,
      completionTokens: 5,
    });
    // Recomputing prompt + first token costs a full prefill.
    expect(chunks[0]!.atMs).toBeCloseTo(prefillSeconds(profile, 2001) * 1000, 6);
  });

  it('skips the pull when the decode engine caches the whole prompt already', async () => {
    const { clock, engine } = setup();
    const pending = engine.prefill({ requestId: 'req', promptTokenIds: prompt(320), sampling: { maxTokens: 4 } });
    run(clock);
    const { handoff, firstTokenId } = await pending;
    const chunks: TokenChunk[] = [];
    engine.decode(
      { requestId: 'req2', promptTokenIds: prompt(320), sampling: { maxTokens: 4 }, handoff: handoff!, firstTokenId },
      { onChunk: (chunk) => chunks.push(chunk) },
    );
    run(clock);
    expect(chunks.at(-1)!.usage).toMatchObject({
      cachedPromptTokens: 320,
      transferredBlocks: 0,
      transferredBytes: 0,
      completionTokens: 4,
    });
    expect(engine.release(handoff!.handoffId).found).toBe(true);
    expect(engine.status()).toMatchObject({ usedBlocks: 0, heldBlocks: 0 });
  });
});

describe('simulated engine KV events', () => {
  it("publishes events from which a subscriber rebuilds exactly the engine's cached blocks", () => {
    const { clock, engine } = setup({ numBlocks: 300, dataParallelRank: 2 });
    const seen = new Set<bigint>();
    let batches = 0;
    let stored = 0;
    let removed = 0;
    engine.onKvEvents((batch) => {
      batches++;
      expect(batch.ts).toBe(clock.now() / 1000);
      expect(batch.dataParallelRank).toBe(2);
      expect(batch.events.length).toBeGreaterThan(0);
      for (const event of batch.events) {
        if (event.type === 'BlockStored') {
          stored++;
          expect(event.tokenIds).toHaveLength(event.blockSize * event.blockHashes.length);
          if (event.parentBlockHash !== null) expect(seen.has(event.parentBlockHash as bigint)).toBe(true);
          for (const hash of event.blockHashes) seen.add(hash as bigint);
        } else if (event.type === 'BlockRemoved') {
          removed++;
          for (const hash of event.blockHashes) expect(seen.delete(hash as bigint)).toBe(true);
        } else {
          seen.clear();
        }
      }
    });
    for (let i = 0; i < 60; i++) {
      clock.setTimer(i * 20, () =>
        record(engine, clock, {
          requestId: `r${i}`,
          promptTokenIds: [...prompt(160, (i % 4) * 10_000), ...prompt(30 + i * 7, 50_000 + i * 1000)],
          sampling: { maxTokens: 40 },
        }),
      );
    }
    run(clock);
    const cached = new Set<bigint>();
    for (let id = 0; id < 300; id++) {
      const hash = engine.core.pool.hashOf(id);
      if (hash) cached.add(hash.value);
    }
    expect(removed).toBeGreaterThan(50);
    expect(stored).toBeGreaterThan(60);
    expect(batches).toBeLessThanOrEqual(engine.status().stepsTotal);
    expect(seen).toEqual(cached);
  });

  it('publishes nothing for a prefix hit and AllBlocksCleared on reset', () => {
    const { clock, engine } = setup();
    const events: string[] = [];
    engine.onKvEvents((batch) => events.push(...batch.events.map((e) => e.type)));
    record(engine, clock, { requestId: 'a', promptTokenIds: prompt(64), sampling: { maxTokens: 1 } });
    run(clock);
    expect(events).toEqual(['BlockStored']);
    // Same 64 tokens plus one: the four cached blocks hit, and no new block fills.
    record(engine, clock, { requestId: 'b', promptTokenIds: prompt(65), sampling: { maxTokens: 1 } });
    run(clock);
    expect(events).toEqual(['BlockStored']);
    expect(engine.resetPrefixCache()).toBe(true);
    expect(events).toEqual(['BlockStored', 'AllBlocksCleared']);
  });

  it('stops sending to an unsubscribed sink', () => {
    const { clock, engine } = setup();
    let count = 0;
    const unsubscribe = engine.onKvEvents(() => count++);
    record(engine, clock, { requestId: 'a', promptTokenIds: prompt(64), sampling: { maxTokens: 1 } });
    run(clock);
    unsubscribe();
    record(engine, clock, { requestId: 'b', promptTokenIds: prompt(64, 500), sampling: { maxTokens: 1 } });
    run(clock);
    expect(count).toBe(1);
  });
});
