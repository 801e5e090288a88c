export {
  chainHashAt,
  chainHashHex,
  createBlockHasher,
  hashChain,
  type BlockHashChain,
  type BlockHasher,
} from './block-hash.ts';
export { hashBlockInto, murmur3x86128 } from './murmur3.ts';
