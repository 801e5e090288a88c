import type { KvBlockPool } from './block-pool.ts';
import { kvRowOffset } from './layout.ts';
import type { SequenceBlocks } from './sequence.ts';

/**
 * A sequence's KV as bytes in logical order, independent of which block ids hold it: for each
 * position p < numTokens, each layer, K then V, each KV head, one headDim row of float32. Two
 * sequences hold the same KV exactly when these bytes are equal; slots past numTokens in the
 * last block are not included. For tests and checks, not the hot path.
 */
export function sequenceKvBytes(pool: KvBlockPool, sequence: SequenceBlocks): Uint8Array {
  const { layout, data } = pool;
  const rowsPerPosition = layout.numLayers * 2 * layout.numKvHeads;
  const out = new Float32Array(sequence.numTokens * rowsPerPosition * layout.headDim);
  let at = 0;
  for (let p = 0; p < sequence.numTokens; p++) {
    const base = pool.blockOffset(sequence.blockTable[Math.floor(p / layout.blockSize)]!);
    const slot = p % layout.blockSize;
    for (let l = 0; l < layout.numLayers; l++)
      for (const kind of [0, 1] as const)
        for (let h = 0; h < layout.numKvHeads; h++) {
          const row = base + kvRowOffset(layout, l, kind, h, slot);
          out.set(data.subarray(row, row + layout.headDim), at);
          at += layout.headDim;
        }
  }
  return new Uint8Array(out.buffer);
}
