import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../common/clock.ts';
import { loadModelTokenizer } from '../common/tokenizer/index.ts';
import type { DecodeRequest, KvHandoff } from '../workers/engine/index.ts';
import { createReferenceEngine, type ReferenceEngine } from '../workers/reference/index.ts';
import { createFakePeer } from '../workers/reference/engine/testing/fake-peer.ts';
import { collectTokens } from './fakes/engine-calls.ts';

/**
 * Disaggregated serving made real: engine A prefills and holds the prompt's float32 KV blocks,
 * engine B (its own model instance and pool) pulls them by block id over TCP from A's block
 * server and decodes. B's tokens must equal, token for token, what A generates aggregated, for
 * prompts tokenized with the real Qwen3 tokenizer; also when B already caches part of the
 * prompt (it then pulls only the rest), and when the pull fails and B recomputes. After each,
 * A holds no blocks.
 */

const BLOCK = 16;
const MAX_TOKENS = 24;
const SAMPLING = { maxTokens: MAX_TOKENS, temperature: 0 };

let A: ReferenceEngine;
let B: ReferenceEngine;
let encode: (text: string) => Promise<number[]>;
let serial = 0;

beforeAll(async () => {
  const { tokenizer } = await loadModelTokenizer('qwen3');
  encode = (text) => tokenizer.encode(text, { addSpecialTokens: false });
  A = await createReferenceEngine({ engineId: 'engine-a', model: { seed: 'exactness' } }, { clock: realClock });
  B = await createReferenceEngine({ engineId: 'engine-b', model: { seed: 'exactness' } }, { clock: realClock });
});

afterAll(async () => {
  await A?.close();
  await B?.close();
});

/** Polls `condition` until it holds (release notifications travel asynchronously); fails after 10 s. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error(`never became true: ${what}`);
}

function aggregated(engine: ReferenceEngine, prompt: readonly number[]) {
  return collectTokens(engine.generate({ requestId: `agg-${++serial}`, promptTokenIds: prompt, sampling: SAMPLING }));
}

/** Prefill on A, decode on B with the handoff; the first token comes from A, as the orchestrator streams it. */
async function disaggregated(
  prompt: readonly number[],
  tweak: (handoff: KvHandoff) => Partial<DecodeRequest> = () => ({}),
) {
  const id = ++serial;
  const pre = await A.prefill({ requestId: `pre-${id}`, promptTokenIds: prompt, sampling: SAMPLING });
  expect(pre.handoff?.transport).toBe('tcp');
  const handoff = pre.handoff!;
  const decoded = await collectTokens(
    B.decode({
      requestId: `dec-${id}`,
      promptTokenIds: prompt,
      sampling: SAMPLING,
      handoff,
      firstTokenId: pre.firstTokenId,
      ...tweak(handoff),
    }),
  );
  return { ...decoded, tokens: [pre.firstTokenId, ...decoded.tokens], handoff };
}

const blocksOf = (tokens: number) => Math.ceil(tokens / BLOCK);

describe('reference engine: prefill on A + decode on B equals aggregated on A', () => {
  it('for 24 Qwen3-tokenized prompts of varied lengths, run concurrently, pulling every block it lacks over TCP', async () => {
    const system =
      'You are Tandem, a careful assistant who explains how large language models are served across many machines, with exact figures. ';
    const texts = [
      'Hi!',
      'What is a KV cache?',
      `${system}What is a KV cache and why does prefill produce it?`,
      `${system}How does a decode worker pull blocks from a prefill worker?`,
      `${system}Why is decoding memory-bound while prefill is compute-bound?`,
      `${system}Explain chunked prefill in two sentences.`,
      `${system}What does the router do with KV events?`,
      `${system}Compare NIXL and NCCL for moving KV blocks.`,
      'The quick brown fox jumps over the lazy dog. '.repeat(8),
      'The quick brown fox jumps over the lazy dog. '.repeat(20),
      Array.from({ length: 40 }, (_, i) => `Sentence ${i} is about block ${(i * 7) % 13} of layer ${i % 3}.`).join(' '),
      Array.from({ length: 90 }, (_, i) => `Item ${i}: ${['alpha', 'beta', 'gamma', 'delta'][i % 4]} ${i * i}.`).join(
        '\n',
      ),
      'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(20)])',
      '東京の天気は晴れです。明日は雨が降るかもしれません。',
      'Translate to French: the cache is warm, the queue is short, and the decode worker is idle.',
      `${system}${'Please be thorough. '.repeat(10)}Summarise.`,
    ];
    const prompts = await Promise.all(texts.map(encode));
    // Prompts of exactly one, two and five blocks (every block full), and one a token past a block boundary.
    const long = prompts[11]!;
    prompts.push(
      long.slice(0, BLOCK),
      long.slice(5, 5 + 2 * BLOCK),
      long.slice(100, 100 + 5 * BLOCK),
      long.slice(0, 3 * BLOCK + 1),
    );
    // Two more that share a 100-token prefix with the long one and with each other.
    prompts.push(
      [...long.slice(0, 100), ...(await encode(' And then what?'))],
      [...long.slice(0, 100), ...(await encode(' Why?'))],
    );
    prompts.push(await encode('A'), await encode(`${system}`.repeat(3)));
    expect(prompts.length).toBeGreaterThanOrEqual(24);
    expect(prompts.some((p) => p.length < BLOCK)).toBe(true);
    expect(prompts.filter((p) => p.length > 5 * BLOCK).length).toBeGreaterThanOrEqual(4);

    const split = await Promise.all(prompts.map((prompt) => disaggregated(prompt)));
    await eventually(() => A.status().heldBlocks === 0, 'A holds no blocks');
    const whole = await Promise.all(prompts.map((prompt) => aggregated(A, prompt)));

    for (let i = 0; i < prompts.length; i++) {
      const prompt = prompts[i]!;
      const { tokens, finishReason, usage } = split[i]!;
      expect(tokens, `prompt ${i} (${prompt.length} tokens)`).toEqual(whole[i]!.tokens);
      expect(finishReason).toBe(whole[i]!.finishReason);
      // Runs to max_tokens unless the model emitted its EOS (then the last token), as aggregated.
      if (finishReason === 'stop') expect(tokens.at(-1)).toBe(A.model.eosId);
      else expect(tokens.length).toBe(MAX_TOKENS);
      // Every prompt block is either found in B's own prefix cache or pulled, never computed.
      expect(usage.kvRecomputed).toBe(false);
      expect(usage.transferredBlocks + usage.cachedPromptTokens / BLOCK).toBe(blocksOf(prompt.length));
      expect(usage.transferredBytes).toBe(usage.transferredBlocks * B.info.blockBytes);
    }
    expect(split.reduce((sum, r) => sum + r.usage.transferredBlocks, 0)).toBeGreaterThan(prompts.length);
    await eventually(() => A.status().heldBlocks === 0 && A.status().heldHandoffs === 0, 'A holds nothing');
    expect(B.status().usedBlocks).toBe(0);
  });

  it('pulls only the blocks B does not already cache, and still matches', async () => {
    const system =
      'Tandem splits prefill from decode when the uncached part of a prompt is long enough to pay for moving its KV. ';
    for (const [warm, asked] of [
      [`${system}Warm question one?`, `${system}Cold question two, somewhat longer than the first one?`],
      [`${system.repeat(4)}Alpha.`, `${system.repeat(4)}Beta, gamma and delta.`],
    ] as const) {
      const warmIds = await encode(warm);
      const prompt = await encode(asked);
      let common = 0;
      while (warmIds[common] === prompt[common]) common++;
      await aggregated(B, warmIds); // B computes (and caches) the shared prefix itself
      const cachedBlocks = Math.floor(common / BLOCK);
      expect(cachedBlocks).toBeGreaterThanOrEqual(1);

      const { tokens, usage } = await disaggregated(prompt);
      expect(usage.cachedPromptTokens).toBe(cachedBlocks * BLOCK);
      expect(usage.transferredBlocks).toBe(blocksOf(prompt.length) - cachedBlocks);
      expect(usage.transferredPromptTokens).toBe(prompt.length - cachedBlocks * BLOCK);
      expect(tokens).toEqual((await aggregated(A, prompt)).tokens);
      await eventually(() => A.status().heldBlocks === 0, 'A released the partly pulled handoff');
    }
  });

  it('pulls nothing when B caches every block of the prompt, and still tells A to free them', async () => {
    const prompt = (
      await encode(
        'one, two, three, four, five, six, seven, eight, nine, ten, eleven, twelve, thirteen, fourteen, fifteen, sixteen, seventeen',
      )
    ).slice(0, 2 * BLOCK);
    expect(prompt.length).toBe(2 * BLOCK);
    await aggregated(B, [...prompt, 42]); // B caches both full blocks
    const { tokens, usage } = await disaggregated(prompt);
    expect(usage).toMatchObject({ cachedPromptTokens: 2 * BLOCK, transferredBlocks: 0, kvRecomputed: false });
    expect(tokens).toEqual((await aggregated(A, prompt)).tokens);
    await eventually(() => A.status().heldBlocks === 0, 'A released after an empty pull');
  });
});

describe('reference engine: recompute after a failed transfer', () => {
  let prompt: number[];
  let expected: number[];
  beforeAll(async () => {
    prompt = await encode(`${'Recompute me: '.repeat(15)}and finish with a question about failure handling?`);
    expected = (await aggregated(A, prompt)).tokens;
  });

  it('recomputes when A no longer holds the blocks (released before the pull), and matches', async () => {
    const { tokens, usage } = await disaggregated(prompt, (handoff) => {
      expect(A.release(handoff.handoffId).found).toBe(true);
      return {};
    });
    expect(usage).toMatchObject({ kvRecomputed: true, transferredBlocks: 0, transferredBytes: 0 });
    expect(tokens).toEqual(expected);
    expect(A.status().heldBlocks).toBe(0);
    expect(B.status().usedBlocks).toBe(0);
  });

  it('recomputes when the prefill engine is gone (its block server closed), and matches', async () => {
    const P = await createReferenceEngine({ model: { seed: 'exactness' } }, { clock: realClock });
    const pre = await P.prefill({ requestId: 'gone', promptTokenIds: prompt, sampling: SAMPLING });
    await P.close();
    const { tokens, usage } = await collectTokens(
      B.decode({
        requestId: 'after-gone',
        promptTokenIds: prompt,
        sampling: SAMPLING,
        handoff: pre.handoff!,
        firstTokenId: pre.firstTokenId,
      }),
    );
    expect(usage.kvRecomputed).toBe(true);
    expect([pre.firstTokenId, ...tokens]).toEqual(expected);
  });

  it('recomputes when the connection dies mid-transfer, discarding the bytes that did arrive, and matches', async () => {
    const peer = await createFakePeer('one-block-then-close', B.info.blockBytes);
    const pre = await A.prefill({ requestId: `mid-${++serial}`, promptTokenIds: prompt, sampling: SAMPLING });
    const redirected = { ...pre.handoff!, port: peer.port };
    const { tokens, usage } = await collectTokens(
      B.decode({
        requestId: `mid-dec-${serial}`,
        promptTokenIds: prompt,
        sampling: SAMPLING,
        handoff: redirected,
        firstTokenId: pre.firstTokenId,
      }),
    );
    expect(peer.reads).toEqual([pre.handoff!.handoffId]);
    expect(usage).toMatchObject({ kvRecomputed: true, transferredBlocks: 0 });
    expect([pre.firstTokenId, ...tokens]).toEqual(expected);
    // B told the peer it dialled (the fake) to free them; A's hold is the orchestrator's to release.
    await eventually(() => peer.releases.length === 1, 'B sent a release to the peer it pulled from');
    expect(A.release(pre.handoff!.handoffId).found).toBe(true);
    expect(A.status().heldBlocks).toBe(0);
    expect(B.status().usedBlocks).toBe(0);
    await peer.close();
  });

  it('ends the stream ("abort") instead under loadFailurePolicy "fail", leaking no blocks', async () => {
    const peer = await createFakePeer('one-block-then-close', B.info.blockBytes);
    const pre = await A.prefill({ requestId: `fail-${++serial}`, promptTokenIds: prompt, sampling: SAMPLING });
    const result = await collectTokens(
      B.decode({
        requestId: `fail-dec-${serial}`,
        promptTokenIds: prompt,
        sampling: SAMPLING,
        handoff: { ...pre.handoff!, port: peer.port },
        firstTokenId: pre.firstTokenId,
        loadFailurePolicy: 'fail',
      }),
    );
    expect(result.finishReason).toBe('abort');
    expect(result.tokens).toEqual([]);
    expect(result.usage).toMatchObject({ kvRecomputed: false, transferredBlocks: 0 });
    A.release(pre.handoff!.handoffId);
    expect(A.status().heldBlocks).toBe(0);
    expect(B.status().usedBlocks).toBe(0);
    await peer.close();
  });
});
