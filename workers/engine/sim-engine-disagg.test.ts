import { describe, expect, it } from 'vitest';
import {
  decodeStepSeconds,
  kvBlockBytes,
  linkProfile,
  modelProfile,
  prefillSeconds,
  transferSeconds,
} from '../../common/profiles/index.ts';
import type { TokenChunk } from './engine-api.ts';
import { prompt, profile, record, run, setup } from './testing/sim-harness.ts';

/**
 * The simulated engine's side of disaggregation: a prefill holds its blocks until released or
 * expired (none when its first token ends the request); a decode pulls only the blocks it lacks,
 * or recomputes when it cannot, and decodes what aggregated serving would.
 */

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
