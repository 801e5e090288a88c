import { describe, expect, it } from 'vitest';
import { fmix32 } from './fmix32.ts';

describe('fmix32', () => {
  // MurmurHash3_x86_32 of the empty input is fmix32(seed): the published vectors for seeds 0, 1
  // and 0xffffffff are 0, 0x514e28b7 and 0x81f16f39.
  it("matches MurmurHash3_x86_32's empty-input vectors", () => {
    expect(fmix32(0) >>> 0).toBe(0);
    expect(fmix32(1) >>> 0).toBe(0x514e28b7);
    expect(fmix32(0xffffffff) >>> 0).toBe(0x81f16f39);
  });

  it('returns a signed int32', () => {
    expect(fmix32(0xffffffff)).toBe(0x81f16f39 | 0);
  });
});
