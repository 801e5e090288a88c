import { describe, expect, it } from 'vitest';
import { decodeSeq, encodeSeq } from './seq-frame.ts';
import { END_SEQ } from './types.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('sequence frame', () => {
  it('writes 8 bytes big-endian, as vLLM does', () => {
    expect(hex(encodeSeq(0n))).toBe('0000000000000000');
    expect(hex(encodeSeq(5n))).toBe('0000000000000005');
    expect(hex(encodeSeq(0x0102030405060708n))).toBe('0102030405060708');
    expect(hex(encodeSeq(END_SEQ))).toBe('ffffffffffffffff');
  });

  it('reads back what it writes, including from a view into a larger buffer', () => {
    const backing = new Uint8Array(20);
    backing.set(encodeSeq(123456789012345n), 7);
    expect(decodeSeq(backing.subarray(7, 15))).toEqual({ ok: true, value: 123456789012345n });
    expect(decodeSeq(encodeSeq(END_SEQ))).toEqual({ ok: true, value: END_SEQ });
  });

  it('rejects frames that are not exactly 8 bytes', () => {
    expect(decodeSeq(new Uint8Array(7)).ok).toBe(false);
    expect(decodeSeq(new Uint8Array(9)).ok).toBe(false);
    expect(decodeSeq(new Uint8Array()).ok).toBe(false);
  });

  it('refuses to write values outside 0..2^64-1', () => {
    expect(() => encodeSeq(-1n)).toThrow(RangeError);
    expect(() => encodeSeq(1n << 64n)).toThrow(RangeError);
  });
});
