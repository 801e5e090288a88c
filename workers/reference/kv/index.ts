export { createKvBlockPool, type KvBlockPool, type KvBlockPoolOptions } from './block-pool.ts';
export {
  createKvBlockLayout,
  kvRowOffset,
  sameKvLayout,
  toProtoKvLayout,
  type KvBlockLayout,
  type KvBlockLayoutInput,
} from './layout.ts';
export { assertCapacity, blocksFor, ensureCapacity, type SequenceBlocks } from './sequence.ts';
export { sequenceKvBytes } from './sequence-bytes.ts';
