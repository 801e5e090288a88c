import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { firstDifference } from '../../../common/first-difference.ts';
import { createRng } from '../../../common/rng.ts';
import { createKvBlockPool, sequenceKvBytes, type KvBlockPool, type SequenceBlocks } from '../kv/index.ts';
import { prefillSequence } from './generate.ts';
import { kvDigest } from './kv-digest-child.ts';
import { createReferenceModel, type ReferenceModel } from './model.ts';

const BLOCK = 16;
const promptOf = (seed: string, length: number) => {
  const rng = createRng(seed);
  return Array.from({ length }, () => rng.int(151936));
};

interface Run {
  pool: KvBlockPool;
  sequence: SequenceBlocks;
  logits: Float32Array;
}

/** Prefills `prompt` with `chunk` tokens per forward call into blocks handed out from `blockIds`. */
function run(
  model: ReferenceModel,
  prompt: readonly number[],
  chunk: number,
  blockIds: readonly number[],
  poolBlocks = 64,
): Run {
  const pool = createKvBlockPool({ layout: model.kvLayout(BLOCK), numBlocks: poolBlocks });
  const sequence: SequenceBlocks = { blockTable: [], numTokens: 0 };
  let next = 0;
  const logits = prefillSequence(model, pool, sequence, prompt, () => blockIds[next++]!, chunk);
  return { pool, sequence, logits };
}

const bytesOf = (logits: Float32Array) => new Uint8Array(logits.buffer.slice(0));

describe('reference model determinism', () => {
  const model = createReferenceModel({ seed: 'det' });
  const prompt = promptOf('det-prompt', 83); // 5 full blocks and a partial one
  const ids = Array.from({ length: 64 }, (_, i) => i);

  it('gives bit-identical KV and logits whether the prompt runs whole, in chunks, or token by token', () => {
    const whole = run(model, prompt, Infinity, ids);
    for (const chunk of [1, 5, 16, 17, 40]) {
      const chunked = run(model, prompt, chunk, ids);
      expect(
        firstDifference(sequenceKvBytes(chunked.pool, chunked.sequence), sequenceKvBytes(whole.pool, whole.sequence)),
        `chunk ${chunk}`,
      ).toBe(-1);
      expect(firstDifference(bytesOf(chunked.logits), bytesOf(whole.logits)), `chunk ${chunk}`).toBe(-1);
    }
  });

  it('gives bit-identical KV whatever block ids hold it, and block for block the same bytes', () => {
    const a = run(model, prompt, Infinity, ids);
    const scattered = [41, 3, 17, 60, 8, 29];
    const b = run(model, prompt, 7, scattered);
    expect(b.sequence.blockTable).toEqual(scattered);
    expect(firstDifference(sequenceKvBytes(b.pool, b.sequence), sequenceKvBytes(a.pool, a.sequence))).toBe(-1);
    // Whole-block bytes match too (fresh pools: the partial block's unused slots are zero in both).
    for (let i = 0; i < scattered.length; i++)
      expect(firstDifference(b.pool.readBlockBytes(scattered[i]!), a.pool.readBlockBytes(i))).toBe(-1);
    expect(firstDifference(bytesOf(b.logits), bytesOf(a.logits))).toBe(-1);
  });

  it('ignores whatever a reused block holds beyond the positions written', () => {
    const clean = run(model, prompt, Infinity, ids);
    const dirty = createKvBlockPool({ layout: model.kvLayout(BLOCK), numBlocks: 64 });
    const noise = createRng('noise');
    for (let i = 0; i < dirty.data.length; i++) dirty.data[i] = noise.normal(0, 100);
    const sequence: SequenceBlocks = { blockTable: [], numTokens: 0 };
    let next = 0;
    const logits = prefillSequence(model, dirty, sequence, prompt, () => next++, 9);
    expect(firstDifference(sequenceKvBytes(dirty, sequence), sequenceKvBytes(clean.pool, clean.sequence))).toBe(-1);
    expect(firstDifference(bytesOf(logits), bytesOf(clean.logits))).toBe(-1);
  });

  it('builds the same weights and outputs in separate instances from the same seed, different ones from another', () => {
    const again = createReferenceModel({ seed: 'det' });
    const other = createReferenceModel({ seed: 'other' });
    const a = run(model, prompt, Infinity, ids);
    const b = run(again, prompt, Infinity, ids);
    const c = run(other, prompt, Infinity, ids);
    expect(firstDifference(bytesOf(b.logits), bytesOf(a.logits))).toBe(-1);
    expect(firstDifference(sequenceKvBytes(b.pool, b.sequence), sequenceKvBytes(a.pool, a.sequence))).toBe(-1);
    expect(firstDifference(bytesOf(c.logits), bytesOf(a.logits))).not.toBe(-1);
  });

  it('computes the same KV and logits in another process', async () => {
    const here = kvDigest('cross-process', 50, 50);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'workers/reference/model/kv-digest-child.ts', 'cross-process', '50', '3'],
      {
        cwd: new URL('../../../', import.meta.url).pathname,
      },
    );
    expect(JSON.parse(stdout)).toEqual(here);
    // And the digest is sensitive: a different chunking in-process agrees, a different seed does not.
    expect(kvDigest('cross-process', 50, 1, 5)).toEqual(here);
    expect(kvDigest('cross-process-2', 50, 50)).not.toEqual(here);
  });
});
