import { describe, expect, it } from 'vitest';
import { createReplayRing } from './replay-ring.ts';

const payload = (n: number) => new Uint8Array([n]);

describe('replay ring', () => {
  it('holds only the last `capacity` batches, oldest first', () => {
    const ring = createReplayRing(3);
    for (let i = 0; i < 5; i++) ring.push(BigInt(i), payload(i));
    expect(ring.size()).toBe(3);
    expect(ring.oldest()).toBe(2n);
    expect(ring.newest()).toBe(4n);
    expect(ring.from(0n).map((e) => e.seq)).toEqual([2n, 3n, 4n]);
    expect(ring.from(0n).map((e) => e.payload[0])).toEqual([2, 3, 4]);
  });

  it('returns every entry with seq >= start, and nothing past the newest', () => {
    const ring = createReplayRing(10);
    for (let i = 0; i < 7; i++) ring.push(BigInt(i), payload(i));
    expect(ring.from(4n).map((e) => e.seq)).toEqual([4n, 5n, 6n]);
    expect(ring.from(6n).map((e) => e.seq)).toEqual([6n]);
    expect(ring.from(7n)).toEqual([]);
    expect(ring.from(1n << 63n)).toEqual([]);
  });

  it('matches a plain array model over many wrap-arounds', () => {
    const ring = createReplayRing(7);
    const all: bigint[] = [];
    for (let i = 0; i < 100; i++) {
      ring.push(BigInt(i), payload(i % 256));
      all.push(BigInt(i));
      const start = BigInt((i * 13) % (i + 3));
      const expected = all.slice(-7).filter((s) => s >= start);
      expect(ring.from(start).map((e) => e.seq)).toEqual(expected);
    }
  });

  it('gives a snapshot that later pushes do not change', () => {
    const ring = createReplayRing(2);
    ring.push(0n, payload(0));
    ring.push(1n, payload(1));
    const snapshot = ring.from(0n);
    ring.push(2n, payload(2));
    expect(snapshot.map((e) => e.seq)).toEqual([0n, 1n]);
  });

  it('rejects out-of-order sequences and a non-positive capacity', () => {
    const ring = createReplayRing(2);
    ring.push(5n, payload(5));
    expect(() => ring.push(7n, payload(7))).toThrow(RangeError);
    expect(() => createReplayRing(0)).toThrow(RangeError);
  });
});
