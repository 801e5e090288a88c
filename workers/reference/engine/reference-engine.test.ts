import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../../common/clock.ts';
import { isTandemError } from '../../../common/errors.ts';
import { collectTokens } from '../../../test/fakes/engine-calls.ts';
import type { GenerateRequest, SamplingParams } from '../../engine/index.ts';
import { createKvBlockClient } from '../transfer/client.ts';
import { createReferenceEngine, type ReferenceEngine } from './reference-engine.ts';
import { createFakePeer } from './testing/fake-peer.ts';

/** The reference engine behind the Engine API: what it reports, sampling from its logits, holds, pulls gone wrong, and the event loop. */

const SEED = 'api';
const prompt = (length: number, offset = 0) =>
  Array.from({ length }, (_, i) => 1000 + (((offset + i) * 7919) % 150_000));

let A: ReferenceEngine;
let B: ReferenceEngine;
let serial = 0;

beforeAll(async () => {
  A = await createReferenceEngine({ model: { seed: SEED }, numBlocks: 512 }, { clock: realClock });
  B = await createReferenceEngine({ model: { seed: SEED }, numBlocks: 512 }, { clock: realClock });
});
afterAll(async () => {
  await A?.close();
  await B?.close();
});

const request = (promptTokenIds: number[], sampling: Partial<SamplingParams> = {}): GenerateRequest => ({
  requestId: `r${++serial}`,
  promptTokenIds,
  sampling: { maxTokens: 12, ...sampling },
});

async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error(`never became true: ${what}`);
}

describe('reference engine', () => {
  it("reports itself as a reference engine with the model's block shape and a listening block server", () => {
    expect(A.info).toMatchObject({
      kind: 'reference',
      tpSize: 1,
      blockSize: 16,
      blockBytes: 6144,
      totalBlocks: 512,
      vocabSize: 151936,
      maxNumBatchedTokens: 256,
      servedModelName: 'Qwen/Qwen3-8B',
    });
    expect(A.info.engineId).not.toBe(B.info.engineId);
    expect(A.kvTransfer.port).toBeGreaterThan(0);
    expect(A.kvTransfer.advertiseHost).toBe('127.0.0.1');
  });

  it('samples from its real logits at a non-zero temperature: reproducible per seed, greedy again with top_k 1', async () => {
    const p = prompt(40);
    const greedy = await collectTokens(A.generate(request(p, { maxTokens: 24 })));
    expect(new Set(greedy.tokens).size).toBeGreaterThan(1);
    // Hot enough that the untrained model's flat logits give a different pick somewhere.
    const warm = await collectTokens(A.generate(request(p, { maxTokens: 24, temperature: 50, seed: 7 })));
    expect(warm.tokens).not.toEqual(greedy.tokens);
    expect((await collectTokens(B.generate(request(p, { maxTokens: 24, temperature: 50, seed: 7 })))).tokens).toEqual(
      warm.tokens,
    );
    expect(
      (await collectTokens(A.generate(request(p, { maxTokens: 24, temperature: 50, seed: 8 })))).tokens,
    ).not.toEqual(warm.tokens);
    expect(
      (await collectTokens(A.generate(request(p, { maxTokens: 24, temperature: 50, seed: 7, topK: 1 })))).tokens,
    ).toEqual(greedy.tokens);
    expect(
      (await collectTokens(A.generate(request(p, { maxTokens: 24, temperature: 50, seed: 7, minP: 1 })))).tokens,
    ).toEqual(greedy.tokens);
  });

  it('reports the log-softmax of its logits: the greedy token is the best alternative', async () => {
    const p = prompt(40);
    const chunks = [];
    for await (const chunk of A.generate(request(p, { logprobs: 4 }))) chunks.push(chunk);
    const logprobs = chunks.flatMap((c) => c.logprobs ?? []);
    expect(logprobs).toHaveLength(12);
    for (const lp of logprobs) {
      expect(lp.top).toHaveLength(4);
      expect(lp.logprob).toBe(lp.top[0]!.logprob);
      expect(lp.logprob).toBeLessThan(0);
      expect(lp.top[3]!.logprob).toBeLessThanOrEqual(lp.top[0]!.logprob);
    }
    expect(chunks.flatMap((c) => c.tokenIds)).toEqual(logprobs.map((lp) => lp.top[0]!.tokenId));
  });

  it('changes its greedy output under a frequency or repetition penalty', async () => {
    const p = prompt(40);
    const plain = (await collectTokens(A.generate(request(p, { maxTokens: 24 })))).tokens;
    expect(new Set(plain).size).toBeLessThan(plain.length); // the untrained model repeats itself
    const penalised = (await collectTokens(A.generate(request(p, { maxTokens: 24, frequencyPenalty: 2 })))).tokens;
    expect(penalised).not.toEqual(plain);
    expect(new Set(penalised).size).toBeGreaterThan(new Set(plain).size);
    expect((await collectTokens(A.generate(request(p, { maxTokens: 24, repetitionPenalty: 2 })))).tokens).not.toEqual(
      plain,
    );
  });

  it('stops after a stop id, and masks stop ids before min_tokens', async () => {
    const p = prompt(30, 500);
    const free = (await collectTokens(A.generate(request(p)))).tokens;
    const stopped = await collectTokens(A.generate(request(p, { stopTokenIds: [free[2]!] })));
    expect(stopped.tokens).toEqual(free.slice(0, free.indexOf(free[2]!) + 1));
    expect(stopped.finishReason).toBe('stop');
    const masked = await collectTokens(A.generate(request(p, { stopTokenIds: [free[0]!], minTokens: 1 })));
    expect(masked.tokens[0]).not.toBe(free[0]);
  });

  it('samples the first token itself when the decode is not given it, recomputing the last prompt position (as vLLM does)', async () => {
    for (const length of [64, 70]) {
      const p = prompt(length, 11 * length);
      const expected = (await collectTokens(A.generate(request(p)))).tokens;
      const pre = await A.prefill(request(p));
      const decoded = await collectTokens(B.decode({ ...request(p), handoff: pre.handoff! }));
      expect(decoded.tokens).toEqual(expected);
      expect(decoded.usage).toMatchObject({ kvRecomputed: false, transferredBlocks: Math.ceil(length / 16) });
    }
  });

  it('gives the same tokens when a full pool preempts requests and recomputes them', async () => {
    const small = await createReferenceEngine(
      { model: { seed: SEED }, numBlocks: 40, maxNumBatchedTokens: 64 },
      { clock: realClock },
    );
    try {
      const prompts = Array.from({ length: 6 }, (_, i) => prompt(150 + 20 * i, 100_000 * i));
      const sampling = { maxTokens: 40, ignoreEos: true };
      const crowded = await Promise.all(prompts.map((p) => collectTokens(small.generate(request(p, sampling)))));
      expect(small.status().preemptionsTotal).toBeGreaterThan(0);
      for (const [i, p] of prompts.entries())
        expect(crowded[i]!.tokens).toEqual((await collectTokens(A.generate(request(p, sampling)))).tokens);
      expect(small.status().usedBlocks).toBe(0);
    } finally {
      await small.close();
    }
  });

  it("holds a prefill's blocks for its block server until released, then serves them no more", async () => {
    const p = prompt(70, 900);
    const pre = await A.prefill(request(p, { maxTokens: 1 }));
    expect(pre.finishReason).toBe('length');
    const handoff = pre.handoff!;
    expect(handoff).toMatchObject({
      transport: 'tcp',
      host: '127.0.0.1',
      port: A.kvTransfer.port,
      numTokens: 70,
      blockSize: 16,
      blockBytes: 6144,
      tpSize: 1,
    });
    expect(handoff.layout).toEqual({ numLayers: 3, numKvHeads: 2, headDim: 8, dtype: 'float32' });
    expect(handoff.blockIds).toHaveLength(5);
    expect(A.status()).toMatchObject({ heldBlocks: 5, heldHandoffs: 1 });

    const client = createKvBlockClient({ pool: B.pool });
    const peer = { host: handoff.host!, port: handoff.port!, remoteRequestId: handoff.handoffId };
    const read = await client.readBlocks({ ...peer, remoteBlockIds: handoff.blockIds, localBlockIds: [0, 1, 2, 3, 4] });
    expect(read).toEqual({ ok: true, value: { blocks: 5, bytes: 5 * 6144 } });
    expect(await client.release(peer)).toEqual({ ok: true, value: { wasHeld: true } });
    expect(A.status()).toMatchObject({ heldBlocks: 0, heldHandoffs: 0 });
    expect(A.release(handoff.handoffId).found).toBe(false);
    const again = await client.readBlocks({
      ...peer,
      remoteBlockIds: handoff.blockIds,
      localBlockIds: [0, 1, 2, 3, 4],
    });
    expect(again.ok || again.error.reason).toBe('not_held');
  });

  it("frees held blocks at the hold's expiry, after which a decode recomputes", async () => {
    const P = await createReferenceEngine(
      { model: { seed: SEED }, numBlocks: 64, kvHoldTimeoutMs: 30 },
      { clock: realClock },
    );
    try {
      const p = prompt(50, 77);
      const expected = (await collectTokens(A.generate(request(p)))).tokens;
      const pre = await P.prefill(request(p));
      await eventually(() => P.status().heldBlocks === 0, 'the hold expired');
      const decoded = await collectTokens(
        B.decode({ ...request(p), handoff: pre.handoff!, firstTokenId: pre.firstTokenId }),
      );
      expect(decoded.usage.kvRecomputed).toBe(true);
      expect([pre.firstTokenId, ...decoded.tokens]).toEqual(expected);
    } finally {
      await P.close();
    }
  });

  it('recomputes a handoff it cannot pull (another transport), or refuses it under policy "fail"', async () => {
    const p = prompt(45, 3000);
    const expected = (await collectTokens(A.generate(request(p)))).tokens;
    const pre = await A.prefill(request(p));
    const simHandoff = { ...pre.handoff!, transport: 'sim' as const };
    const decoded = await collectTokens(
      B.decode({ ...request(p), handoff: simHandoff, firstTokenId: pre.firstTokenId }),
    );
    expect(decoded.usage).toMatchObject({ kvRecomputed: true, transferredBlocks: 0 });
    expect([pre.firstTokenId, ...decoded.tokens]).toEqual(expected);
    let thrown: unknown;
    try {
      B.decode({ ...request(p), handoff: simHandoff, loadFailurePolicy: 'fail' });
    } catch (error) {
      thrown = error;
    }
    expect(isTandemError(thrown) && thrown.code).toBe('kv_transfer_failed');
    A.release(pre.handoff!.handoffId);
  });

  it('recomputes when the peer never answers within the pull timeout', async () => {
    const peer = await createFakePeer('silent', B.info.blockBytes);
    const impatient = await createReferenceEngine(
      { model: { seed: SEED }, numBlocks: 64, kvTransfer: { timeoutMs: 200 } },
      { clock: realClock },
    );
    try {
      const p = prompt(60, 4000);
      const expected = (await collectTokens(A.generate(request(p)))).tokens;
      const pre = await A.prefill(request(p));
      const decoded = await collectTokens(
        impatient.decode({
          ...request(p),
          handoff: { ...pre.handoff!, port: peer.port },
          firstTokenId: pre.firstTokenId,
        }),
      );
      expect(peer.reads).toHaveLength(1);
      expect(decoded.usage.kvRecomputed).toBe(true);
      expect([pre.firstTokenId, ...decoded.tokens]).toEqual(expected);
      A.release(pre.handoff!.handoffId);
    } finally {
      await impatient.close();
      await peer.close();
    }
  });

  it('stops a pull in flight when the decode is cancelled, frees its blocks and tells the peer', async () => {
    const peer = await createFakePeer('silent', B.info.blockBytes);
    try {
      const p = prompt(80, 5000);
      const pre = await A.prefill(request(p));
      const reading = peer.next('read');
      const stream = B.decode({
        ...request(p),
        handoff: { ...pre.handoff!, port: peer.port },
        firstTokenId: pre.firstTokenId,
      });
      expect(await reading).toBe(pre.handoff!.handoffId);
      expect(B.status()).toMatchObject({ waitingRequests: 1, usedBlocks: 5 });
      stream.cancel();
      const { finishReason } = await stream.result;
      expect(finishReason).toBe('abort');
      expect(B.status()).toMatchObject({ waitingRequests: 0, usedBlocks: 0 });
      await eventually(() => peer.releases.length === 1, 'the peer was told to free its blocks');
      expect(peer.releases).toEqual([pre.handoff!.handoffId]);
      A.release(pre.handoff!.handoffId);
    } finally {
      await peer.close();
    }
  });

  it('lets timers and sockets run between the passes of a long prefill', async () => {
    const steps = A.status().stepsTotal;
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    await collectTokens(A.generate(request(prompt(3000, 20_000), { maxTokens: 1 })));
    ticking = false;
    const passes = A.status().stepsTotal - steps;
    expect(passes).toBeGreaterThanOrEqual(12); // 3000 tokens at 256 per pass
    expect(turns).toBeGreaterThanOrEqual(passes / 2);
  });

  it('aborts what runs and stops its block server when closed', async () => {
    const P = await createReferenceEngine({ model: { seed: SEED }, numBlocks: 256 }, { clock: realClock });
    const pre = await P.prefill(request(prompt(40)));
    const stream = P.generate(request(prompt(2000, 1), { maxTokens: 4 }));
    await P.close();
    expect((await stream.result).finishReason).toBe('abort');
    expect(P.status()).toMatchObject({ heldBlocks: 0, usedBlocks: 0 });
    const client = createKvBlockClient({ pool: B.pool });
    const read = await client.readBlocks({
      host: '127.0.0.1',
      port: P.kvTransfer.port,
      remoteRequestId: pre.handoff!.handoffId,
      remoteBlockIds: [0],
      localBlockIds: [0],
    });
    expect(read.ok || read.error.reason).toBe('peer_unreachable');
  });
});
