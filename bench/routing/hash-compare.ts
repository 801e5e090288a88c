/**
 * Which 64-bit hash the router should chain its blocks with: measures, for an 8k-token prompt
 * in 16-token blocks (512 chained blocks), xxh64 from xxhash-wasm, xxh64 in pure JS (64-bit
 * arithmetic on 32-bit halves, checked against the wasm build), and the MurmurHash3_x86_128
 * the router uses (orchestrator/hashing). Prints microseconds per prompt (median of rounds).
 *
 *   npx tsx bench/routing/hash-compare.ts
 */
import xxhash from 'xxhash-wasm';
import { createRng } from '../../common/rng.ts';
import { hashBlockInto } from '../../orchestrator/hashing/index.ts';

const BLOCK = 16;
const BLOCKS = 512;
const SEED = 1337;
const rng = createRng('hash-compare');
const tokens = Array.from({ length: BLOCK * BLOCKS }, () => rng.int(151_936));

// ---- xxh64 in pure JS over little-endian uint32 words (lo, hi halves; no BigInt) ----
const P = [0x9e3779b185ebca87n, 0xc2b2ae3d27d4eb4fn, 0x165667b19e3779f9n, 0x85ebca77c2b2ae63n, 0x27d4eb2f165667c5n].map(
  (p) => [Number(p >> 32n), Number(p & 0xffffffffn)] as const,
);
const [P1, P2, P3, P4, P5] = P as unknown as [
  readonly [number, number],
  readonly [number, number],
  readonly [number, number],
  readonly [number, number],
  readonly [number, number],
];
const R = new Uint32Array(2); // result register: R[0] = hi, R[1] = lo
function mul(aH: number, aL: number, bH: number, bL: number): void {
  const a0 = aL & 0xffff,
    a1 = aL >>> 16,
    b0 = bL & 0xffff,
    b1 = bL >>> 16;
  const p00 = a0 * b0,
    p01 = a0 * b1,
    p10 = a1 * b0,
    p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  R[1] = ((mid & 0xffff) << 16) | (p00 & 0xffff);
  R[0] = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(aH, bL) + Math.imul(aL, bH);
}
function add(aH: number, aL: number, bH: number, bL: number): void {
  const lo = (aL >>> 0) + (bL >>> 0);
  R[1] = lo;
  R[0] = aH + bH + (lo > 0xffffffff ? 1 : 0);
}
function rotl(aH: number, aL: number, n: number): void {
  if (n < 32) {
    R[0] = (aH << n) | (aL >>> (32 - n));
    R[1] = (aL << n) | (aH >>> (32 - n));
  } else {
    n -= 32;
    R[0] = (aL << n) | (aH >>> (32 - n));
    R[1] = (aH << n) | (aL >>> (32 - n));
  }
}
function round(accH: number, accL: number, inH: number, inL: number): void {
  mul(inH, inL, P2[0], P2[1]);
  add(accH, accL, R[0]!, R[1]!);
  rotl(R[0]!, R[1]!, 31);
  mul(R[0]!, R[1]!, P1[0], P1[1]);
}
function merge(hH: number, hL: number, vH: number, vL: number): void {
  round(0, 0, vH, vL);
  mul((hH ^ R[0]!) >>> 0, (hL ^ R[1]!) >>> 0, P1[0], P1[1]);
  add(R[0]!, R[1]!, P4[0], P4[1]);
}
/** xxh64 of the words `w[0..n)` (n even, >= 8) with a 32-bit seed; result in R. */
function xxh64Words(w: Uint32Array, n: number, seed: number): void {
  add(0, seed, P1[0], P1[1]);
  add(R[0]!, R[1]!, P2[0], P2[1]);
  let v1H = R[0]!,
    v1L = R[1]!;
  add(0, seed, P2[0], P2[1]);
  let v2H = R[0]!,
    v2L = R[1]!;
  let v3H = 0,
    v3L = seed;
  add(0, seed, ~P1[0] >>> 0, (~P1[1] + 1) >>> 0);
  let v4H = R[0]!,
    v4L = R[1]!;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    round(v1H, v1L, w[i + 1]!, w[i]!);
    v1H = R[0]!;
    v1L = R[1]!;
    round(v2H, v2L, w[i + 3]!, w[i + 2]!);
    v2H = R[0]!;
    v2L = R[1]!;
    round(v3H, v3L, w[i + 5]!, w[i + 4]!);
    v3H = R[0]!;
    v3L = R[1]!;
    round(v4H, v4L, w[i + 7]!, w[i + 6]!);
    v4H = R[0]!;
    v4L = R[1]!;
  }
  rotl(v1H, v1L, 1);
  let hH = R[0]!,
    hL = R[1]!;
  rotl(v2H, v2L, 7);
  add(hH, hL, R[0]!, R[1]!);
  hH = R[0]!;
  hL = R[1]!;
  rotl(v3H, v3L, 12);
  add(hH, hL, R[0]!, R[1]!);
  hH = R[0]!;
  hL = R[1]!;
  rotl(v4H, v4L, 18);
  add(hH, hL, R[0]!, R[1]!);
  hH = R[0]!;
  hL = R[1]!;
  merge(hH, hL, v1H, v1L);
  hH = R[0]!;
  hL = R[1]!;
  merge(hH, hL, v2H, v2L);
  hH = R[0]!;
  hL = R[1]!;
  merge(hH, hL, v3H, v3L);
  hH = R[0]!;
  hL = R[1]!;
  merge(hH, hL, v4H, v4L);
  hH = R[0]!;
  hL = R[1]!;
  add(hH, hL, 0, n * 4);
  hH = R[0]!;
  hL = R[1]!;
  for (; i + 2 <= n; i += 2) {
    round(0, 0, w[i + 1]!, w[i]!);
    rotl((hH ^ R[0]!) >>> 0, (hL ^ R[1]!) >>> 0, 27);
    mul(R[0]!, R[1]!, P1[0], P1[1]);
    add(R[0]!, R[1]!, P4[0], P4[1]);
    hH = R[0]!;
    hL = R[1]!;
  }
  hL = (hL ^ (hH >>> 1)) >>> 0;
  mul(hH, hL, P2[0], P2[1]);
  hH = R[0]!;
  hL = R[1]!;
  hL = (hL ^ ((hH << 3) | (hL >>> 29))) >>> 0;
  hH = (hH ^ (hH >>> 29)) >>> 0;
  mul(hH, hL, P3[0], P3[1]);
  hH = R[0]!;
  hL = R[1]!;
  R[0] = hH;
  R[1] = (hL ^ hH) >>> 0;
}
void P5;

const { h64Raw } = await xxhash();
const words = new Uint32Array(2 + BLOCK);
const bytes = new Uint8Array(words.buffer);

function chainWasm(): bigint {
  const view = new DataView(words.buffer);
  let parent = 0n;
  for (let b = 0; b < BLOCKS; b++) {
    view.setBigUint64(0, parent, true);
    for (let j = 0; j < BLOCK; j++) words[2 + j] = tokens[b * BLOCK + j]!;
    parent = h64Raw(bytes, BigInt(SEED));
  }
  return parent;
}

function chainJsXxh64(): bigint {
  let hi = 0,
    lo = 0;
  for (let b = 0; b < BLOCKS; b++) {
    words[0] = lo;
    words[1] = hi;
    for (let j = 0; j < BLOCK; j++) words[2 + j] = tokens[b * BLOCK + j]!;
    xxh64Words(words, 2 + BLOCK, SEED);
    hi = R[0]!;
    lo = R[1]!;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

const out = new Uint32Array(2);
function chainMurmur(): bigint {
  let lo = 0,
    hi = 0;
  for (let b = 0; b < BLOCKS; b++) {
    hashBlockInto(SEED, lo, hi, tokens, b * BLOCK, BLOCK, out, 0);
    lo = out[0]!;
    hi = out[1]!;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

if (chainWasm() !== chainJsXxh64()) throw new Error('pure-JS xxh64 disagrees with xxhash-wasm');

function measure(name: string, fn: () => bigint): void {
  for (let i = 0; i < 200; i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 15; r++) {
    const n = 100;
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    rounds.push(((performance.now() - start) * 1000) / n);
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)]!;
  console.log(
    `${name.padEnd(28)} ${median.toFixed(1).padStart(8)} us per 8k-token prompt  ${((median * 1000) / BLOCKS).toFixed(0).padStart(5)} ns per block`,
  );
}

console.log(`chained 64-bit hashes of ${BLOCKS} blocks of ${BLOCK} tokens (median of 15 rounds)`);
measure('xxh64 (xxhash-wasm)', chainWasm);
measure('xxh64 (pure JS, 32-bit)', chainJsXxh64);
measure('murmur3_x86_128 (router)', chainMurmur);
