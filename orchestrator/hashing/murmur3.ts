/**
 * MurmurHash3_x86_128 (Austin Appleby's public-domain algorithm), of which the router keeps the
 * first 64 bits. Chosen over xxh64 because it needs only 32-bit integer operations, which V8
 * runs unboxed: a pure-JS xxh64 needs 64-bit multiplies built from 16-bit halves and measured
 * ~10x slower here, and xxhash-wasm pays a copy and a BigInt per block (see
 * orchestrator/hashing/README.md for the figures and bench/routing/hash-compare.ts).
 *
 * A 64-bit value is two uint32 words: `lo` (bits 0-31) and `hi` (bits 32-63). The first 64
 * bits of the 128-bit digest read little-endian are `lo = h1`, `hi = h2`.
 */
import { fmix32 } from '../../common/fmix32.ts';

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

/** The whole 128-bit digest of `bytes` as four uint32 words [h1, h2, h3, h4]. Reference path. */
export function murmur3x86128(bytes: Uint8Array, seed: number): Uint32Array {
  let h1 = seed | 0,
    h2 = seed | 0,
    h3 = seed | 0,
    h4 = seed | 0;
  const len = bytes.length;
  const stripes = len >>> 4;
  const word = (i: number) => bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24) | 0;
  for (let s = 0; s < stripes; s++) {
    const i = s * 16;
    let k1 = word(i),
      k2 = word(i + 4),
      k3 = word(i + 8),
      k4 = word(i + 12);
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    k2 = Math.imul(k2, C3);
    h2 ^= k2;
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    k3 = Math.imul(k3, C4);
    h3 ^= k3;
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    k4 = Math.imul(k4, C1);
    h4 ^= k4;
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }
  const tail = stripes * 16;
  // Tail: up to 15 bytes, little-endian into k1..k4; each k mixed only if it got a byte.
  const rest = len & 15;
  const k = [0, 0, 0, 0];
  for (let b = 0; b < rest; b++) k[b >>> 2]! |= bytes[tail + b]! << ((b & 3) * 8);
  if (rest > 12) {
    let k4 = k[3]!;
    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    k4 = Math.imul(k4, C1);
    h4 ^= k4;
  }
  if (rest > 8) {
    let k3 = k[2]!;
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    k3 = Math.imul(k3, C4);
    h3 ^= k3;
  }
  if (rest > 4) {
    let k2 = k[1]!;
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    k2 = Math.imul(k2, C3);
    h2 ^= k2;
  }
  if (rest > 0) {
    let k1 = k[0]!;
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
  }
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2) | 0;
  h1 = (h1 + h3) | 0;
  h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2) | 0;
  h1 = (h1 + h3) | 0;
  h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  return Uint32Array.of(h1, h2, h3, h4);
}

/**
 * The hot path: first 64 bits of MurmurHash3_x86_128 over the little-endian uint32 words
 * `[parentLo, parentHi, tokens[offset], ..., tokens[offset + count - 1]]`, i.e. a block's
 * tokens chained from its parent's hash. Writes `lo` to `out[at]` and `hi` to `out[at + 1]`.
 * Token ids must be integers in [0, 2^32). Allocates nothing.
 */
export function hashBlockInto(
  seed: number,
  parentLo: number,
  parentHi: number,
  tokens: ArrayLike<number>,
  offset: number,
  count: number,
  out: Uint32Array,
  at: number,
): void {
  let h1 = seed | 0,
    h2 = seed | 0,
    h3 = seed | 0,
    h4 = seed | 0;
  // The word stream is the parent (2 words) then the tokens; stripes are 4 words.
  let k1 = parentLo | 0,
    k2 = parentHi | 0,
    k3 = 0,
    k4 = 0;
  let j = 0; // tokens consumed
  let pending = 2; // words already loaded into k1..k4 for the current stripe
  if (count >= 2) {
    k3 = tokens[offset]! | 0;
    k4 = tokens[offset + 1]! | 0;
    j = 2;
    pending = 4;
  } else if (count === 1) {
    k3 = tokens[offset]! | 0;
    j = 1;
    pending = 3;
  }
  while (pending === 4) {
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    k2 = Math.imul(k2, C3);
    h2 ^= k2;
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    k3 = Math.imul(k3, C4);
    h3 ^= k3;
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(k4, C4);
    k4 = (k4 << 18) | (k4 >>> 14);
    k4 = Math.imul(k4, C1);
    h4 ^= k4;
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
    const left = count - j;
    pending = Math.min(left, 4);
    const base = offset + j;
    k1 = left > 0 ? tokens[base]! | 0 : 0;
    k2 = left > 1 ? tokens[base + 1]! | 0 : 0;
    k3 = left > 2 ? tokens[base + 2]! | 0 : 0;
    k4 = left > 3 ? tokens[base + 3]! | 0 : 0;
    j += pending;
  }
  // Tail: 0..3 whole words (k4 never, as a 4th word would complete a stripe).
  if (pending >= 3) {
    k3 = Math.imul(k3, C3);
    k3 = (k3 << 17) | (k3 >>> 15);
    k3 = Math.imul(k3, C4);
    h3 ^= k3;
  }
  if (pending >= 2) {
    k2 = Math.imul(k2, C2);
    k2 = (k2 << 16) | (k2 >>> 16);
    k2 = Math.imul(k2, C3);
    h2 ^= k2;
  }
  if (pending >= 1) {
    k1 = Math.imul(k1, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    k1 = Math.imul(k1, C2);
    h1 ^= k1;
  }
  const len = (count + 2) * 4;
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2) | 0;
  h1 = (h1 + h3) | 0;
  h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix32(h1);
  h2 = fmix32(h2);
  h3 = fmix32(h3);
  h4 = fmix32(h4);
  h1 = (h1 + h2) | 0;
  h1 = (h1 + h3) | 0;
  h1 = (h1 + h4) | 0;
  h2 = (h2 + h1) | 0;
  out[at] = h1 >>> 0;
  out[at + 1] = h2 >>> 0;
}
