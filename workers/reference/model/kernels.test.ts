import { describe, expect, it } from 'vitest';
import { createRng } from '../../../common/rng.ts';
import { dot4, expNonPositive, matVec } from './kernels.ts';

describe('model kernels', () => {
  it('computes e^x for x <= 0 to within 1e-8 relative, and 0 far below', () => {
    const rng = createRng('exp');
    let worst = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = -rng.next() * 700;
      worst = Math.max(worst, Math.abs(expNonPositive(x) - Math.exp(x)) / Math.exp(x));
    }
    for (const x of [0, -1e-12, -0.5, -Math.LN2, -20])
      worst = Math.max(worst, Math.abs(expNonPositive(x) - Math.exp(x)) / Math.exp(x));
    expect(worst).toBeLessThan(1e-8);
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-800)).toBe(0);
  });

  it('sums a dot product as four interleaved partial sums, tail into the first', () => {
    const big = 2 ** 60; // exact in float32
    const a = Float64Array.from([1, 1, 1, 1, 1]);
    const b = Float32Array.from([big, 1000, -big, 1000, 1000]);
    // s0 = big + 1000 (tail), s1 = 1000, s2 = -big, s3 = 1000; (s0 + s1) + (s2 + s3) in float64,
    // which rounds differently from a left-to-right sum.
    const lanes = big + 1000 + 1000 + (-big + 1000);
    const leftToRight = big + 1000 - big + 1000 + 1000;
    expect(lanes).not.toBe(leftToRight);
    expect(dot4(a, 0, b, 0, 5)).toBe(lanes);
    expect(dot4(Float64Array.from([0, 0, 2, 3]), 2, Float32Array.from([9, 9, 5, 7]), 2, 2)).toBe(2 * 5 + 3 * 7);
  });

  it('multiplies a row-major matrix by a vector', () => {
    const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const out = new Float64Array(2);
    matVec(w, Float64Array.from([1, 0, -1]), out, 2, 3);
    expect(Array.from(out)).toEqual([-2, -2]);
  });
});
