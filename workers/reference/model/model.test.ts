import { describe, expect, it } from 'vitest';
import { createRng } from '../../../common/rng.ts';
import { firstDifference } from '../../../common/first-difference.ts';
import { createKvBlockPool, sequenceKvBytes, type SequenceBlocks } from '../kv/index.ts';
import { resolveModelConfig, type ReferenceModelConfig } from './config.ts';
import { decodeGreedy, prefillSequence } from './generate.ts';
import { createReferenceModel, type ReferenceModel } from './model.ts';
import { embeddingRow, outputVocabulary } from './token-map.ts';
import { generateWeights } from './weights.ts';

const promptOf = (seed: string, length: number) => {
  const rng = createRng(seed);
  return Array.from({ length }, () => rng.int(151936));
};

function freshSequence(model: ReferenceModel, blockSize = 16, numBlocks = 64) {
  const pool = createKvBlockPool({ layout: model.kvLayout(blockSize), numBlocks });
  const sequence: SequenceBlocks = { blockTable: [], numTokens: 0 };
  let next = 0;
  return { pool, sequence, allocate: () => next++ };
}

/**
 * The same transformer written the plain way: dense per-position K/V arrays, textbook loops,
 * Math.exp. K and V are rounded to float32 as the pool stores them. Returns the last logits.
 */
function denseForward(config: ReferenceModelConfig, tokenIds: readonly number[]): Float64Array {
  const outputIds = outputVocabulary(config);
  const w = generateWeights(config, outputIds.length);
  const { hiddenSize: H, numHeads, numKvHeads, headDim: D, intermediateSize: M } = config;
  const matvec = (m: Float32Array, x: ArrayLike<number>, rows: number, cols: number) =>
    Array.from({ length: rows }, (_, r) => {
      let s = 0;
      for (let c = 0; c < cols; c++) s += m[r * cols + c]! * x[c]!;
      return s;
    });
  const norm = (x: number[], g: Float32Array) => {
    const rms = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + config.rmsNormEps);
    return x.map((v, i) => (v / rms) * g[i]!);
  };
  const rope = (x: number[], heads: number, p: number) => {
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < D / 2; i++) {
        const angle = p / config.ropeTheta ** ((2 * i) / D);
        const a = x[h * D + i]!,
          b = x[h * D + i + D / 2]!;
        x[h * D + i] = a * Math.cos(angle) - b * Math.sin(angle);
        x[h * D + i + D / 2] = b * Math.cos(angle) + a * Math.sin(angle);
      }
  };
  const keys: number[][][] = w.layers.map(() => []); // [layer][position][kvWidth]
  const values: number[][][] = w.layers.map(() => []);
  let x: number[] = [];
  tokenIds.forEach((token, p) => {
    const row = embeddingRow(token, config.embeddingRows);
    x = Array.from(w.embedding.subarray(row * H, row * H + H));
    w.layers.forEach((layer, l) => {
      const h = norm(x, layer.attnNorm);
      const q = matvec(layer.wq, h, numHeads * D, H);
      const k = matvec(layer.wk, h, numKvHeads * D, H);
      const v = matvec(layer.wv, h, numKvHeads * D, H);
      rope(q, numHeads, p);
      rope(k, numKvHeads, p);
      keys[l]!.push(k.map(Math.fround));
      values[l]!.push(v.map(Math.fround));
      const attn: number[] = [];
      for (let head = 0; head < numHeads; head++) {
        const g = Math.floor(head / (numHeads / numKvHeads));
        const scores = keys[l]!.map((kr) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += q[head * D + d]! * kr[g * D + d]!;
          return s / Math.sqrt(D);
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) attn.push(values[l]!.reduce((acc, vr, i) => acc + e[i]! * vr[g * D + d]!, 0) / sum);
      }
      x = x.map((val, i) => val + matvec(layer.wo, attn, H, numHeads * D)[i]!);
      const h2 = norm(x, layer.mlpNorm);
      const gate = matvec(layer.wGate, h2, M, H);
      const up = matvec(layer.wUp, h2, M, H);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]!);
      x = x.map((val, i) => val + matvec(layer.wDown, act, H, M)[i]!);
    });
  });
  return Float64Array.from(matvec(w.lmHead, norm(x, w.finalNorm), outputIds.length, H));
}

describe('reference model', () => {
  it('computes the same function as a plain dense transformer with the same weights', () => {
    // Odd block size and 3 query heads per KV head, so paging and head grouping are exercised.
    const config = resolveModelConfig({
      seed: 'dense',
      numLayers: 2,
      numHeads: 6,
      numKvHeads: 2,
      headDim: 8,
      hiddenSize: 24,
      intermediateSize: 40,
    });
    const model = createReferenceModel(config);
    const prompt = promptOf('dense-prompt', 23);
    const { pool, sequence, allocate } = freshSequence(model, 5);
    const paged = prefillSequence(model, pool, sequence, prompt, allocate, 4);
    const dense = denseForward(config, prompt);
    expect(paged.length).toBe(dense.length);
    let worst = 0;
    for (let i = 0; i < dense.length; i++) worst = Math.max(worst, Math.abs(paged[i]! - dense[i]!));
    expect(worst).toBeLessThan(1e-4);
    expect(Math.max(...dense.map(Math.abs))).toBeGreaterThan(0.1); // not trivially zero
  });

  it('stores a prompt prefix with the same KV as the prefix alone, so cached prefix blocks are reusable', () => {
    const model = createReferenceModel({ seed: 'prefix' });
    const prompt = promptOf('prefix-prompt', 70);
    const long = freshSequence(model);
    prefillSequence(model, long.pool, long.sequence, prompt, long.allocate);
    const short = freshSequence(model);
    prefillSequence(model, short.pool, short.sequence, prompt.slice(0, 48), short.allocate);
    for (let b = 0; b < 3; b++)
      expect(firstDifference(long.pool.readBlockBytes(b), short.pool.readBlockBytes(b))).toBe(-1);
    // Continuing the short one from its cached blocks reaches the long one's state exactly.
    const logits = prefillSequence(model, short.pool, short.sequence, prompt.slice(48), short.allocate);
    const longLogits = model.forward(long.pool, long.sequence.blockTable, 69, [prompt[69]!]);
    expect(firstDifference(new Uint8Array(logits.buffer), new Uint8Array(longLogits.buffer))).toBe(-1);
    expect(
      firstDifference(sequenceKvBytes(short.pool, short.sequence), sequenceKvBytes(long.pool, long.sequence)),
    ).toBe(-1);
  });

  it('picks the largest logit greedily, ties going to the lowest id', () => {
    const model = createReferenceModel();
    const logits = new Float32Array(model.outputIds.length).fill(-1);
    logits[7] = 3;
    logits[4] = 3;
    logits[200] = 2.5;
    expect(model.greedy(logits)).toBe(model.outputIds[4]);
    logits[250] = 3.5;
    expect(model.greedy(logits)).toBe(model.outputIds[250]);
  });

  it('maps any Qwen3 id to an embedding row in range, and scores an ascending output vocabulary that ends in EOS', () => {
    const model = createReferenceModel();
    for (const id of [0, 1, 9707, 151642, 151935]) {
      const row = embeddingRow(id, 1024);
      expect(row).toBeGreaterThanOrEqual(0);
      expect(row).toBeLessThan(1024);
      expect(embeddingRow(id, 1024)).toBe(row);
    }
    expect(new Set(Array.from({ length: 1024 }, (_, i) => embeddingRow(i, 1024))).size).toBeGreaterThan(600);
    expect(model.outputIds.length).toBe(256);
    expect(model.outputIds[0]).toBe(5000);
    expect(model.outputIds.at(-1)).toBe(151645);
    expect(model.outputIds.every((id, i) => i === 0 || id > model.outputIds[i - 1]!)).toBe(true);
    const custom = createReferenceModel({ firstOutputId: 100, outputIdCount: 10, eosId: 105 });
    expect(custom.outputIds).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  });

  it('answers different prompts differently, so comparing token streams means something', () => {
    const model = createReferenceModel({ seed: 7 });
    const firsts = new Set<number>();
    const streams = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const { pool, sequence, allocate } = freshSequence(model);
      const logits = prefillSequence(model, pool, sequence, promptOf(`varied-${i}`, 20 + i * 7), allocate);
      const out = decodeGreedy(model, pool, sequence, logits, {
        maxTokens: 16,
        ignoreEos: true,
        allocateBlock: allocate,
      });
      firsts.add(out.tokenIds[0]!);
      streams.add(out.tokenIds.join(','));
      expect(new Set(out.tokenIds).size).toBeGreaterThan(1);
    }
    expect(firsts.size).toBeGreaterThanOrEqual(4);
    expect(streams.size).toBe(12);
  });

  it('decodes until max tokens or a stop id, keeping the KV of every emitted token but the last', () => {
    const model = createReferenceModel({ seed: 3 });
    const prompt = promptOf('decode', 30);
    const a = freshSequence(model);
    const full = decodeGreedy(
      model,
      a.pool,
      a.sequence,
      prefillSequence(model, a.pool, a.sequence, prompt, a.allocate),
      { maxTokens: 12, ignoreEos: true, allocateBlock: a.allocate },
    );
    expect(full.finishReason).toBe('length');
    expect(full.tokenIds).toHaveLength(12);
    expect(a.sequence.numTokens).toBe(30 + 11);
    const stopAt = full.tokenIds.indexOf(full.tokenIds[5]!);
    const b = freshSequence(model);
    const stopped = decodeGreedy(
      model,
      b.pool,
      b.sequence,
      prefillSequence(model, b.pool, b.sequence, prompt, b.allocate),
      { maxTokens: 12, ignoreEos: true, stopTokenIds: [full.tokenIds[5]!], allocateBlock: b.allocate },
    );
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.tokenIds).toEqual(full.tokenIds.slice(0, stopAt + 1));
  });

  it('stops at EOS unless told to ignore it', () => {
    // With EOS as the only output id besides one other, greedy soon emits it.
    const model = createReferenceModel({ seed: 11, firstOutputId: 5000, outputIdCount: 1, eosId: 151645 });
    const prompt = promptOf('eos', 8);
    const runs = [false, true].map((ignoreEos) => {
      const s = freshSequence(model);
      return decodeGreedy(model, s.pool, s.sequence, prefillSequence(model, s.pool, s.sequence, prompt, s.allocate), {
        maxTokens: 40,
        ignoreEos,
        allocateBlock: s.allocate,
      });
    });
    const [stopping, ignoring] = runs as [ReturnType<typeof decodeGreedy>, ReturnType<typeof decodeGreedy>];
    expect(ignoring.tokenIds).toContain(151645);
    expect(ignoring.finishReason).toBe('length');
    expect(stopping.finishReason).toBe('stop');
    expect(stopping.tokenIds.at(-1)).toBe(151645);
    expect(stopping.tokenIds).toEqual(ignoring.tokenIds.slice(0, stopping.tokenIds.length));
  });

  it('rejects ids outside the vocabulary, overlong sequences, short block tables and foreign pools', () => {
    const model = createReferenceModel({ maxModelLen: 40 });
    const { pool, sequence, allocate } = freshSequence(model);
    expect(() => prefillSequence(model, pool, sequence, [151936], allocate)).toThrow(/outside \[0, 151936\)/);
    expect(() => prefillSequence(model, pool, sequence, [-1], allocate)).toThrow(/outside/);
    expect(() => prefillSequence(model, pool, sequence, promptOf('long', 41), allocate)).toThrow(
      expect.objectContaining({ code: 'context_length_exceeded' }),
    );
    expect(() => model.forward(pool, [0], 0, promptOf('short-table', 17))).toThrow(/block table has 1 blocks/);
    const other = createReferenceModel({ numLayers: 2 });
    expect(() => model.forward(createKvBlockPool({ layout: other.kvLayout(16), numBlocks: 4 }), [0], 0, [1])).toThrow(
      expect.objectContaining({ code: 'failed_precondition' }),
    );
  });

  it('refuses shapes it cannot run, naming the field', () => {
    expect(() => createReferenceModel({ numHeads: 5, numKvHeads: 2 })).toThrow(/numHeads/);
    expect(() => createReferenceModel({ headDim: 6 })).toThrow(/headDim/);
    expect(() => createReferenceModel({ firstOutputId: 151900, outputIdCount: 100 })).toThrow(/firstOutputId/);
    expect(() => createReferenceModel({ eosId: 200000 })).toThrow(/eosId/);
    expect(() => createReferenceModel({ numLayers: 0 })).toThrow(/numLayers/);
  });
});
