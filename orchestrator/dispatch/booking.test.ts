import { describe, expect, it } from 'vitest';
import { createVirtualClock } from '../../common/clock.ts';
import { createLoadBook, type BookingChange } from '../load/index.ts';
import { createBookings } from './booking.ts';

const setup = () => {
  const clock = createVirtualClock();
  const load = createLoadBook({ bookingTtlMs: 10_000, reportMaxAgeMs: 5_000 });
  const published: string[] = [];
  const bookings = createBookings({ load, clock, touchIntervalMs: 1000, onChange: (w) => published.push(w) });
  const changes: BookingChange[] = [];
  bookings.observe((c) => changes.push(c));
  const booked = (w: string) => {
    const b = load.load(w, clock.now()).booked;
    return [b.inflightRequests, b.queuedPrefillTokens, b.activeDecodeBlocks];
  };
  return { clock, load, bookings, published, changes, booked };
};

describe('booking lifecycle', () => {
  it('releases the prefill part once at the first token and everything once at the end, however often called', () => {
    const { load, bookings, published, booked } = setup();
    const b = bookings.adopt('w', load.book('w', { prefillTokens: 1200, decodeBlocks: 450 }, 0), {
      promptTokens: 7200,
      blockSize: 16,
    });
    expect(booked('w')).toEqual([1, 1200, 450]);
    b.firstToken();
    b.firstToken();
    expect(booked('w')).toEqual([1, 0, 450]);
    b.release();
    b.release();
    b.firstToken();
    expect(b.released).toBe(true);
    expect(booked('w')).toEqual([0, 0, 0]);
    expect(published).toEqual(['w', 'w']);
  });

  it('touches while streaming at most every touch interval, growing decode blocks with the output', () => {
    const { clock, bookings, booked } = setup();
    const b = bookings.book('w', { prefillTokens: 100, decodeBlocks: 10 }, { promptTokens: 160, blockSize: 16 });
    clock.advance(500);
    b.streamed(32);
    expect(booked('w')[2]).toBe(10); // within the interval: untouched
    clock.advance(500);
    b.streamed(64);
    expect(booked('w')[2]).toBe(14); // (160 + 64) / 16
    // Touched bookings do not expire; an untouched one does after the TTL.
    clock.advance(9_999);
    b.streamed(80);
    clock.advance(9_999);
    expect(booked('w')[0]).toBe(1);
  });

  it('tells observers every change as deltas to the worker booked figures, expiry included', () => {
    const { clock, load, bookings, changes } = setup();
    const a = bookings.book('w', { prefillTokens: 100, decodeBlocks: 10 }, { promptTokens: 160, blockSize: 16 });
    a.firstToken();
    clock.advance(1000);
    a.streamed(32);
    a.release();
    bookings.book('v', { prefillTokens: 50, decodeBlocks: 4 }, { promptTokens: 64, blockSize: 16 });
    clock.advance(20_000);
    load.expire(clock.now());
    expect(changes.map((c) => [c.kind, c.worker, c.inflightDelta, c.prefillTokensDelta, c.decodeBlocksDelta])).toEqual([
      ['booked', 'w', 1, 100, 10],
      ['first-token', 'w', 0, -100, 0],
      ['touched', 'w', 0, 0, 2],
      ['released', 'w', -1, 0, -12],
      ['booked', 'v', 1, 50, 4],
      ['expired', 'v', -1, -50, -4],
    ]);
    // Summing the deltas rebuilds each worker's booked figures (what a replica would apply).
    const sum = (w: string) =>
      changes
        .filter((c) => c.worker === w)
        .reduce((s, c) => s + c.inflightDelta + c.prefillTokensDelta + c.decodeBlocksDelta, 0);
    expect(sum('w')).toBe(0);
    expect(sum('v')).toBe(0);
  });

  it('stops telling an observer once unsubscribed', () => {
    const { load, bookings } = setup();
    const seen: string[] = [];
    const stop = bookings.observe((c) => seen.push(c.kind));
    bookings.book('w', { prefillTokens: 1, decodeBlocks: 1 }, { promptTokens: 1, blockSize: 16 }).release();
    stop();
    load.book('w', { prefillTokens: 1, decodeBlocks: 1 }, 0);
    expect(seen).toEqual(['booked', 'released']);
  });
});
