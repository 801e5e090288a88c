import type { ExternalBlockHash } from '../../proto/kv-events/types.ts';
import { murmur3x86128 } from '../hashing/index.ts';

/**
 * Engine block hashes as 64-bit (lo, hi) words, the form the index keys them by.
 *
 * - bigint: taken modulo 2^64, so the signed int64 values very old vLLM sent map to the same
 *   key as their unsigned form.
 * - bytes: the last 8 bytes read big-endian, which is exactly what vLLM sends in int mode
 *   (`int.from_bytes(digest, 'big') & (2^64 - 1)`), so a digest and its int form agree.
 *   Shorter byte strings are left-padded with zeros.
 *
 * A KV-cache group other than 0 is folded into the key, so hybrid models' groups are tracked
 * apart (PROTOCOLS.md section 9: keyed by worker, dp rank and group).
 */
const scratch64 = new BigUint64Array(1);
const scratch32 = new Uint32Array(scratch64.buffer);
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const LO = littleEndian ? 0 : 1;
const HI = littleEndian ? 1 : 0;

/** Writes the key of (hash, group) to out[at] (lo) and out[at + 1] (hi). */
export function engineKeyInto(hash: ExternalBlockHash, groupIdx: number | null, out: Uint32Array, at: number): void {
  let lo: number;
  let hi: number;
  if (typeof hash === 'bigint') {
    scratch64[0] = hash; // stored modulo 2^64
    lo = scratch32[LO]!;
    hi = scratch32[HI]!;
  } else {
    lo = beWord(hash, hash.length - 4);
    hi = beWord(hash, hash.length - 8);
  }
  if (groupIdx !== null && groupIdx !== 0) {
    hi = (hi ^ Math.imul(groupIdx + 1, 0x9e3779b1)) >>> 0;
    lo = (lo ^ Math.imul(groupIdx + 1, 0x85ebca6b)) >>> 0;
  }
  out[at] = lo;
  out[at + 1] = hi;
}

/** Four bytes at `start` big-endian; positions before 0 read as zero. */
function beWord(bytes: Uint8Array, start: number): number {
  let word = 0;
  for (let i = start; i < start + 4; i++) word = (word << 8) | (i >= 0 ? bytes[i]! : 0);
  return word >>> 0;
}

/**
 * Per-block extra hash keys (multimodal hashes, a cache salt) make a block unreachable for a
 * plain token prompt, exactly as they make the engine's hash differ. The router cannot rebuild
 * them from a request, so salted blocks get a distinct router hash (and so do their children):
 * they are indexed for bookkeeping but never match a prompt. A block whose extra keys are empty
 * or hold only the LoRA name (already in the chain's root) is not salted.
 */
export function isSalted(extra: unknown, loraName: string | null): boolean {
  if (extra === null || extra === undefined) return false;
  if (Array.isArray(extra)) return !extra.every((item) => item === null || (loraName !== null && item === loraName));
  return true;
}

/** Mixes a stable rendering of `extra` into (lo, hi); writes the result to out[at], out[at + 1]. */
export function saltInto(seed: number, lo: number, hi: number, extra: unknown, out: Uint32Array, at: number): void {
  const digest = murmur3x86128(new TextEncoder().encode(`${lo}:${hi}:${stableText(extra)}`), seed);
  out[at] = digest[0]!;
  out[at + 1] = digest[1]!;
}

function stableText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `b${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return `[${value.map(stableText).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableText(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? String(value);
}

/** The key as 16 hex digits, for logs and debug output. */
export function keyHex(lo: number, hi: number): string {
  return `${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
}
