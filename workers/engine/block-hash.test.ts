import { describe, expect, it } from 'vitest';
import { createVllmBlockHasher, externalBlockHash } from './block-hash.ts';
import { CborWriter, encodeCbor } from './cbor.ts';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('canonical CBOR', () => {
  it('encodes integers with the shortest head', () => {
    const hex = (value: number | bigint) => encodeCbor(value).toString('hex');
    expect(hex(0)).toBe('00');
    expect(hex(23)).toBe('17');
    expect(hex(24)).toBe('1818');
    expect(hex(255)).toBe('18ff');
    expect(hex(256)).toBe('190100');
    expect(hex(65535)).toBe('19ffff');
    expect(hex(65536)).toBe('1a00010000');
    expect(hex(151645)).toBe('1a0002505d');
    expect(hex(2 ** 32)).toBe('1b0000000100000000');
    expect(hex(0xffff_ffff_ffff_ffffn)).toBe('1bffffffffffffffff');
    expect(hex(-1)).toBe('20');
    expect(hex(-25)).toBe('3818');
    expect(hex(-(2n ** 64n))).toBe('3bffffffffffffffff');
  });

  it('encodes strings, bytes, arrays, null and booleans as cbor2 does', () => {
    expect(encodeCbor('0').toString('hex')).toBe('6130');
    expect(encodeCbor('é').toString('hex')).toBe('62c3a9');
    expect(encodeCbor(new Uint8Array([1, 2, 3])).toString('hex')).toBe('43010203');
    expect(encodeCbor([1, [2, 3], null, true, false]).toString('hex')).toBe('8501820203f6f5f4');
    expect(encodeCbor(range(1, 24)).toString('hex')).toBe(
      `9818${range(1, 23)
        .map((n) => n.toString(16).padStart(2, '0'))
        .join('')}1818`,
    );
  });

  it('refuses values it cannot encode canonically', () => {
    expect(() => encodeCbor(1.5)).toThrow(RangeError);
    expect(() => encodeCbor(2n ** 64n)).toThrow(RangeError);
  });
});

describe('vLLM sha256_cbor block hash', () => {
  // Worked values from PROTOCOLS.md section 2 (vLLM with PYTHONHASHSEED=0, block_size 16).
  const hasher = createVllmBlockHasher('0');

  it('derives NONE_HASH from the seed string', () => {
    expect(hasher.noneHash.toString('hex')).toBe('4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e');
  });

  it('hashes the first block of tokens 1..16 to the worked value', () => {
    const block0 = hasher.hashBlock(null, range(1, 16), 0, 16);
    expect(block0.digest.toString('hex')).toBe('202da172482d928bbc42ab25b0151e2b895f13f41002e27b2ceabcfae6d332ea');
    expect(block0.value).toBe(3236607068019569386n);
  });

  it('chains the second block to the first', () => {
    const tokens = range(1, 32);
    const block0 = hasher.hashBlock(null, tokens, 0, 16);
    const block1 = hasher.hashBlock(block0, tokens, 16, 32);
    expect(block1.digest.toString('hex')).toBe('4a0a393805c6d2f0ed831000d41bb65980336c4c04895d5e26470bbec927f5bf');
    expect(block1.value).toBe(2758186210834249151n);
    expect(externalBlockHash(block1.digest)).toBe(2758186210834249151n);
  });

  it('hashes only full blocks when extending a chain', () => {
    const chain = hasher.extendChain([], range(1, 40), 16);
    expect(chain.map((h) => h.value)).toEqual([3236607068019569386n, 2758186210834249151n]);
    // Extending with more tokens continues the same chain rather than restarting it.
    const longer = hasher.extendChain(chain, range(1, 48), 16);
    expect(longer).toHaveLength(3);
    expect(longer[2]!.value).toBe(hasher.hashBlock(longer[1]!, range(1, 48), 32, 48).value);
  });

  it('gives other seeds other hashes, so a router must map them', () => {
    const other = createVllmBlockHasher('1337');
    expect(other.hashBlock(null, range(1, 16), 0, 16).value).not.toBe(3236607068019569386n);
  });
});

describe('CBOR token runs', () => {
  it('encodes a run of token ids exactly as item-by-item encoding does', () => {
    const values = [0, 1, 23, 24, 255, 256, 65535, 65536, 151645, 2 ** 32 - 1, 2 ** 32, 2 ** 40];
    const run = new CborWriter().uints(values, 0, values.length).view().toString('hex');
    const itemwise = values.map((v) => encodeCbor(v).toString('hex')).join('');
    expect(run).toBe(itemwise);
    expect(new CborWriter().uints(values, 3, 6).view().toString('hex')).toBe(
      values
        .slice(3, 6)
        .map((v) => encodeCbor(v).toString('hex'))
        .join(''),
    );
  });
});

describe('block-hash memo', () => {
  it('returns what hashing computes, for repeated blocks, other parents and a memo that overflows', () => {
    const memoised = createVllmBlockHasher('0', 8);
    const plain = createVllmBlockHasher('0', 0);
    const blocks = Array.from({ length: 40 }, (_, i) => range(1 + (i % 5), 16 + (i % 5)));
    let parentA = null as ReturnType<typeof plain.hashBlock> | null;
    let parentB = null as ReturnType<typeof plain.hashBlock> | null;
    for (const tokens of [...blocks, ...blocks]) {
      const a = memoised.hashBlock(parentA, tokens, 0, 16);
      const b = plain.hashBlock(parentB, tokens, 0, 16);
      expect(a.key).toBe(b.key);
      expect(a.value).toBe(b.value);
      // Same tokens under another parent must not hit the first one's entry.
      expect(memoised.hashBlock(null, tokens, 0, 16).key).toBe(plain.hashBlock(null, tokens, 0, 16).key);
      parentA = a;
      parentB = b;
    }
  });
});
