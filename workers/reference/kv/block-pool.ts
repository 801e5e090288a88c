import { endianness } from 'node:os';
import { TandemError } from '../../../common/errors.ts';
import type { KvBlockLayout } from './layout.ts';

/**
 * A pool of `numBlocks` KV blocks in one contiguous Float32Array, addressed by block id
 * (0 .. numBlocks-1). Storage only: which blocks are free, cached or held is the block
 * manager's business, not the pool's. Block contents start as zeros.
 *
 * The model reads and writes `data` directly at `blockOffset(id)`; the transfer moves whole
 * blocks as bytes with `readBlockBytes` / `writeBlockBytes`.
 */
export interface KvBlockPool {
  readonly layout: KvBlockLayout;
  readonly numBlocks: number;
  /** All blocks, block id b at [blockOffset(b), blockOffset(b) + layout.blockFloats). */
  readonly data: Float32Array;
  /** Offset of a block in `data`, in float32 elements. Throws not_found on a bad id. */
  blockOffset(blockId: number): number;
  /** True for an integer id in [0, numBlocks). */
  hasBlock(blockId: number): boolean;
  /** A copy of the block's bytes (layout.blockBytes, little-endian float32). */
  readBlockBytes(blockId: number): Uint8Array;
  /** Overwrites a block with `bytes`, which must be exactly layout.blockBytes long. */
  writeBlockBytes(blockId: number, bytes: Uint8Array): void;
  /** Zeroes a block. */
  clearBlock(blockId: number): void;
}

export interface KvBlockPoolOptions {
  readonly layout: KvBlockLayout;
  readonly numBlocks: number;
}

export function createKvBlockPool(options: KvBlockPoolOptions): KvBlockPool {
  const { layout, numBlocks } = options;
  if (!Number.isInteger(numBlocks) || numBlocks <= 0) {
    throw new TandemError('invalid_request', `numBlocks must be a positive integer, got ${numBlocks}`, {
      param: 'numBlocks',
    });
  }
  // Block bytes travel as little-endian float32; a big-endian host would need byte swapping.
  if (endianness() !== 'LE')
    throw new TandemError('failed_precondition', 'the reference KV pool needs a little-endian host');
  const data = new Float32Array(numBlocks * layout.blockFloats);
  const bytes = new Uint8Array(data.buffer);

  const hasBlock = (blockId: number) => Number.isInteger(blockId) && blockId >= 0 && blockId < numBlocks;
  const blockOffset = (blockId: number): number => {
    if (!hasBlock(blockId)) throw new TandemError('not_found', `no KV block ${blockId} in a pool of ${numBlocks}`);
    return blockId * layout.blockFloats;
  };

  return {
    layout,
    numBlocks,
    data,
    blockOffset,
    hasBlock,
    readBlockBytes(blockId) {
      const start = blockOffset(blockId) * 4;
      return bytes.slice(start, start + layout.blockBytes);
    },
    writeBlockBytes(blockId, source) {
      if (source.byteLength !== layout.blockBytes) {
        throw new TandemError('invalid_request', `a KV block is ${layout.blockBytes} bytes, got ${source.byteLength}`);
      }
      bytes.set(source, blockOffset(blockId) * 4);
    },
    clearBlock(blockId) {
      const start = blockOffset(blockId);
      data.fill(0, start, start + layout.blockFloats);
    },
  };
}
