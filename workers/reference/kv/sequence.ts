import { TandemError } from '../../../common/errors.ts';

/**
 * One sequence's KV in a pool: the block ids holding positions 0.., in order, and how many
 * positions hold computed KV. Position p is in blockTable[floor(p / blockSize)], slot
 * p % blockSize; the last block may be partly filled. Owned and grown by the caller (the
 * engine's block manager in production).
 */
export interface SequenceBlocks {
  readonly blockTable: number[];
  numTokens: number;
}

/** Blocks needed to hold `numTokens` positions. */
export function blocksFor(numTokens: number, blockSize: number): number {
  return Math.ceil(numTokens / blockSize);
}

/**
 * Appends blocks from `allocateBlock` until the table covers `numTokens` positions. The
 * allocator returns a free block id or throws (e.g. resource exhausted).
 */
export function ensureCapacity(
  sequence: SequenceBlocks,
  numTokens: number,
  blockSize: number,
  allocateBlock: () => number,
): void {
  const needed = blocksFor(numTokens, blockSize);
  while (sequence.blockTable.length < needed) sequence.blockTable.push(allocateBlock());
}

/** Throws unless the table covers `numTokens` positions. */
export function assertCapacity(blockTable: readonly number[], numTokens: number, blockSize: number): void {
  const needed = blocksFor(numTokens, blockSize);
  if (blockTable.length < needed) {
    throw new TandemError(
      'internal',
      `block table has ${blockTable.length} blocks, ${numTokens} positions need ${needed}`,
    );
  }
}
