import { describe, expect, it } from 'vitest';
import { firstDifference } from './first-difference.ts';

describe('firstDifference', () => {
  it('is -1 for equal token lists and equal bytes', () => {
    expect(firstDifference([1, 2, 3], [1, 2, 3])).toBe(-1);
    expect(firstDifference(new Uint8Array([7, 8]), new Uint8Array([7, 8]))).toBe(-1);
    expect(firstDifference([], [])).toBe(-1);
  });

  it('names the first index that differs', () => {
    expect(firstDifference([1, 2, 3], [1, 9, 3])).toBe(1);
    const a = new Uint8Array(1 << 16);
    const b = a.slice();
    b[40_000] = 1;
    expect(firstDifference(a, b)).toBe(40_000);
  });

  it('gives the shorter length when one is a prefix of the other', () => {
    expect(firstDifference([1, 2], [1, 2, 3])).toBe(2);
    expect(firstDifference(new Uint8Array([1, 2, 3]), new Uint8Array([1]))).toBe(1);
  });

  it('compares a view by its own bytes, not its whole buffer', () => {
    const buffer = new Uint8Array([9, 1, 2, 9]);
    expect(firstDifference(buffer.subarray(1, 3), new Uint8Array([1, 2]))).toBe(-1);
  });
});
