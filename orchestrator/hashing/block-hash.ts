import { hashBlockInto, murmur3x86128 } from './murmur3.ts';

/**
 * The router's own chained block hash (independent of the engines' hashes, see PROTOCOLS.md
 * section 2): block i of a prompt hashes its `blockSize` token ids chained from block i-1's
 * hash, `h[i] = H(seed; h[i-1].lo, h[i-1].hi, tokens of block i)`, and block 0 chains from a
 * root that is (0, 0), or derived from a namespace (a LoRA name) so each adapter has its own
 * tree. Only full blocks are hashed: the trailing partial block is never cached by an engine.
 * Equal hashes therefore mean equal token prefixes (up to 64-bit collisions).
 */
export interface BlockHashChain {
  /** Tokens per block these hashes were computed with. */
  readonly blockSize: number;
  /** Full blocks hashed. */
  readonly length: number;
  /** Block i's hash is `lo = words[2i]`, `hi = words[2i + 1]`. */
  readonly words: Uint32Array;
}

export interface BlockHasher {
  /** The uint32 seed (config `routing.hash_seed`). */
  readonly seed: number;
  /** Hashes every full block of `tokens` (integers in [0, 2^32)). */
  hashPrompt(tokens: ArrayLike<number>, blockSize: number, namespace?: string): BlockHashChain;
  /** Root (lo, hi) that block 0 chains from, for a namespace (undefined: no namespace). */
  root(namespace?: string): readonly [lo: number, hi: number];
}

export function createBlockHasher(seed: number): BlockHasher {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff)
    throw new RangeError(`hash seed must be an integer in [0, 2^32), got ${seed}`);
  const roots = new Map<string, readonly [number, number]>();
  const root = (namespace?: string): readonly [number, number] => {
    if (namespace === undefined || namespace === '') return ZERO_ROOT;
    let found = roots.get(namespace);
    if (!found) {
      const digest = murmur3x86128(new TextEncoder().encode(`namespace:${namespace}`), seed);
      found = [digest[0]!, digest[1]!];
      if (roots.size < 4096) roots.set(namespace, found);
    }
    return found;
  };
  return {
    seed,
    root,
    hashPrompt(tokens, blockSize, namespace) {
      const [rootLo, rootHi] = root(namespace);
      return hashChain(seed, rootLo, rootHi, tokens, 0, tokens.length, blockSize);
    },
  };
}

const ZERO_ROOT = [0, 0] as const;

/**
 * Hashes the full blocks of `tokens[offset, offset + tokenCount)` chained from `(parentLo,
 * parentHi)`. The index uses this for BlockStored runs (whose parent is another block).
 */
export function hashChain(
  seed: number,
  parentLo: number,
  parentHi: number,
  tokens: ArrayLike<number>,
  offset: number,
  tokenCount: number,
  blockSize: number,
): BlockHashChain {
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
  const length = Math.floor(tokenCount / blockSize);
  const words = new Uint32Array(length * 2);
  let lo = parentLo;
  let hi = parentHi;
  for (let i = 0; i < length; i++) {
    hashBlockInto(seed, lo, hi, tokens, offset + i * blockSize, blockSize, words, 2 * i);
    lo = words[2 * i]!;
    hi = words[2 * i + 1]!;
  }
  return { blockSize, length, words };
}

/** Block i's hash as an unsigned 64-bit bigint (tests, debug output). */
export function chainHashAt(chain: BlockHashChain, i: number): bigint {
  return (BigInt(chain.words[2 * i + 1]!) << 32n) | BigInt(chain.words[2 * i]!);
}

/** Block i's hash as 16 hex digits (debug output). */
export function chainHashHex(chain: BlockHashChain, i: number): string {
  return chainHashAt(chain, i).toString(16).padStart(16, '0');
}
