import { describe, expect, it } from 'vitest';
import { createLoadBook } from './load-book.ts';

const newBook = () => createLoadBook({ bookingTtlMs: 300_000, reportMaxAgeMs: 5_000 });
const figures = (load: { inflightRequests: number; queuedPrefillTokens: number; activeDecodeBlocks: number }) => [
  load.inflightRequests,
  load.queuedPrefillTokens,
  load.activeDecodeBlocks,
];

describe('load book', () => {
  it('books at routing, releases prefill tokens at the first token and everything at stream end', () => {
    const book = newBook();
    const a = book.book('w', { prefillTokens: 1000, decodeBlocks: 70 }, 0);
    book.book('w', { prefillTokens: 500, decodeBlocks: 40 }, 0);
    expect(figures(book.load('w', 0))).toEqual([2, 1500, 110]);
    book.firstToken(a, 10);
    expect(figures(book.load('w', 10))).toEqual([2, 500, 110]);
    book.release(a);
    book.release(a); // twice is harmless
    expect(figures(book.load('w', 20))).toEqual([1, 500, 40]);
    expect(figures(book.load('unknown', 0))).toEqual([0, 0, 0]);
  });

  it('takes a fresh report as the truth and adds the bookings made since', () => {
    const book = newBook();
    book.book('w', { prefillTokens: 100, decodeBlocks: 10 }, 0);
    // Another router replica sent more work: the worker reports more than we booked.
    book.report('w', { runningRequests: 3, waitingRequests: 2, queuedPrefillTokens: 4000, activeKvBlocks: 300 }, 1000);
    expect(figures(book.load('w', 1000))).toEqual([5, 4000, 300]);
    const later = book.book('w', { prefillTokens: 200, decodeBlocks: 20 }, 1500);
    expect(figures(book.load('w', 1500))).toEqual([6, 4200, 320]);
    book.firstToken(later, 1600);
    expect(figures(book.load('w', 1600))).toEqual([6, 4000, 320]);
    expect(book.load('w', 1600).reportAgeMs).toBe(600);
    expect(figures(book.load('w', 1600).booked)).toEqual([2, 100, 30]);
  });

  it('ignores a stale report and falls back to its own bookings', () => {
    const book = newBook();
    book.book('w', { prefillTokens: 100, decodeBlocks: 10 }, 0);
    book.report('w', { runningRequests: 9, queuedPrefillTokens: 9000 }, 0);
    expect(book.load('w', 5000).inflightRequests).toBe(9);
    expect(figures(book.load('w', 5001))).toEqual([1, 100, 10]);
    expect(book.load('w', 5001).reportAgeMs).toBeNull();
  });

  it('reads decode blocks from KV usage when only vLLM metrics are available, and never goes negative', () => {
    const book = newBook();
    const id = book.book('w', { prefillTokens: 0, decodeBlocks: 50 }, 0);
    book.report('w', { kvUsage: 0.25, totalKvBlocks: 1000, runningRequests: 1 }, 0);
    expect(book.load('w', 0).activeDecodeBlocks).toBe(250);
    // The worker reported fewer blocks than we booked, then our booking ends.
    book.report('w', { activeKvBlocks: 10, runningRequests: 0 }, 1);
    book.release(id);
    expect(figures(book.load('w', 2))).toEqual([0, 0, 0]);
  });

  it('expires the booking of a lost stream after its TTL unless it is touched', () => {
    const book = newBook();
    const lost = book.book('w', { prefillTokens: 100, decodeBlocks: 10 }, 0);
    const alive = book.book('w', { prefillTokens: 100, decodeBlocks: 10 }, 0);
    expect(book.expire(299_999)).toBe(0);
    book.touch(alive, 200_000, 25);
    expect(book.expire(300_000)).toBe(1);
    expect(figures(book.load('w', 300_000))).toEqual([1, 100, 25]);
    expect(book.load('w', 300_000).expiredBookings).toBe(1);
    book.release(lost); // already expired: ignored
    expect(book.expire(500_000)).toBe(1);
    expect(figures(book.load('w', 500_000))).toEqual([0, 0, 0]);
  });

  it('forgets a removed worker and its bookings', () => {
    const book = newBook();
    const id = book.book('w', { prefillTokens: 1, decodeBlocks: 1 }, 0);
    book.removeWorker('w');
    expect(book.workers()).toEqual([]);
    book.release(id);
    expect(figures(book.load('w', 0))).toEqual([0, 0, 0]);
  });
});
