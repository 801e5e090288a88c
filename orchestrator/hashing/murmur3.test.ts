import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { hashBlockInto, murmur3x86128 } from './murmur3.ts';

/** First 64 bits (little-endian) of a digest, as hex. */
const first64 = (digest: Uint32Array) =>
  ((BigInt(digest[1]!) << 32n) | BigInt(digest[0]!)).toString(16).padStart(16, '0');

const leBytes = (words: readonly number[]) => {
  const bytes = new Uint8Array(words.length * 4);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w >>> 0, true));
  return bytes;
};

const blockHex = (seed: number, parentLo: number, parentHi: number, tokens: readonly number[]) => {
  const out = new Uint32Array(2);
  hashBlockInto(seed, parentLo, parentHi, tokens, 0, tokens.length, out, 0);
  return first64(out);
};

// Reference values from Python's mmh3 5.3.0: mmh3.hash_bytes(data, seed, x64arch=False), first
// 8 bytes read little-endian.
describe('MurmurHash3_x86_128', () => {
  it('matches the reference implementation on byte strings', () => {
    const text = (s: string) => new TextEncoder().encode(s);
    expect(first64(murmur3x86128(new Uint8Array(0), 0))).toBe('0000000000000000');
    expect(first64(murmur3x86128(text('hello'), 0))).toBe('db91def72b2444a0');
    expect(first64(murmur3x86128(text('hello'), 1337))).toBe('c4c58887ee983ff1');
    expect(first64(murmur3x86128(text('The quick brown fox jumps over the lazy dog'), 1337))).toBe('e05a99deea1d5de6');
  });

  it('matches the reference implementation on parent-chained token blocks of every tail length', () => {
    expect(
      blockHex(
        1337,
        0,
        0,
        Array.from({ length: 16 }, (_, i) => i + 1),
      ),
    ).toBe('5e389015905c473a');
    expect(blockHex(1337, 0x89abcdef, 0x01234567, [7, 8, 9])).toBe('444663d48e4962fc');
    expect(blockHex(42, 5, 6, [4_000_000_000])).toBe('54c17b31e82a2c7c');
    expect(blockHex(42, 5, 6, [])).toBe('65fd482a83dc73cf');
    expect(blockHex(42, 5, 6, [1, 2])).toBe('12128e6065016b90');
    expect(blockHex(99, 1, 2, [3, 4, 5, 6, 7])).toBe('e4955284d5516284');
  });

  it('hashes token words exactly as the byte-string path hashes their little-endian bytes', () => {
    const rng = createRng('murmur-words');
    const out = new Uint32Array(2);
    for (let trial = 0; trial < 300; trial++) {
      const count = rng.int(40);
      const tokens = Array.from({ length: count }, () => rng.int(2 ** 32));
      const parentLo = rng.int(2 ** 32);
      const parentHi = rng.int(2 ** 32);
      const seed = rng.int(2 ** 32);
      const padded = [9, 9, ...tokens];
      hashBlockInto(seed, parentLo, parentHi, padded, 2, count, out, 0);
      expect(first64(out)).toBe(first64(murmur3x86128(leBytes([parentLo, parentHi, ...tokens]), seed)));
    }
  });
});
