import { describe, expect, it } from 'vitest';
import { createBlockHasher } from '../hashing/index.ts';
import { createKvIndex } from '../kv-index/index.ts';
import { createLoadBook } from '../load/index.ts';
import { decodeSyncMessage, encodeSyncMessage, type SyncDelta } from './delta.ts';
import { createSyncedBook } from './synced-book.ts';

const TTL = 10_000;

/** Two processes' books; deltas of one are handed to the other through the real codec. */
function pair(mode: 'precise' | 'approximate' = 'precise') {
  const outbox: Record<'a' | 'b', SyncDelta[]> = { a: [], b: [] };
  const make = (name: 'a' | 'b') => {
    const load = createLoadBook({ bookingTtlMs: TTL, reportMaxAgeMs: 5_000 });
    const synced = createSyncedBook({
      load,
      index: createKvIndex(mode, {
        hashSeed: 1337,
        defaultBlockSize: 4,
        ttlMs: 60_000,
        maxBlocks: 1 << 16,
        pruneToFraction: 0.8,
      }),
      emit: (d) => outbox[name].push(d),
    });
    return Object.assign(synced, { load });
  };
  const books = { a: make('a'), b: make('b') };
  let seq = 0;
  /** Delivers what `from` emitted to the other, encoded and decoded as on the wire. */
  const deliver = (from: 'a' | 'b', nowMs: number) => {
    const to = from === 'a' ? books.b : books.a;
    const decoded = decodeSyncMessage(
      encodeSyncMessage({ v: 1, origin: from, group: from, seq: ++seq, deltas: outbox[from].splice(0) }),
    );
    if (!decoded.ok) throw decoded.error;
    for (const d of decoded.value.deltas) to.apply(from, d, nowMs);
  };
  return { ...books, deliver, outbox };
}

describe('synced book', () => {
  it("books another process's request on the same worker, releases its prefill at its first token and all of it at its end", () => {
    const { a, b, deliver } = pair();
    const id = a.load.book('w0', { prefillTokens: 100, decodeBlocks: 7 }, 0);
    deliver('a', 1);
    expect(b.load.load('w0', 1).booked).toEqual({
      inflightRequests: 1,
      queuedPrefillTokens: 100,
      activeDecodeBlocks: 7,
    });
    a.load.firstToken(id, 2);
    a.load.touch(id, 3, 9);
    deliver('a', 3);
    expect(b.load.load('w0', 3).booked).toEqual({ inflightRequests: 1, queuedPrefillTokens: 0, activeDecodeBlocks: 9 });
    a.load.release(id);
    deliver('a', 4);
    expect(b.load.load('w0', 4).booked).toEqual({ inflightRequests: 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 });
    // The sender's own book is untouched by the round trip.
    expect(a.load.load('w0', 4).booked.inflightRequests).toBe(0);
  });

  it('books a running request it never saw from its touch (a late starter converges)', () => {
    const { a, b, deliver, outbox } = pair();
    const id = a.load.book('w1', { prefillTokens: 50, decodeBlocks: 3 }, 0);
    outbox.a.length = 0; // b was not there for the booking
    a.load.firstToken(id, 1);
    outbox.a.length = 0;
    a.load.touch(id, 2, 4);
    deliver('a', 2);
    expect(b.load.load('w1', 2).booked).toEqual({ inflightRequests: 1, queuedPrefillTokens: 0, activeDecodeBlocks: 4 });
    a.load.release(id);
    deliver('a', 3);
    expect(b.load.load('w1', 3).booked.inflightRequests).toBe(0);
  });

  it('drops every booking of an origin at once (it said bye, died, or fell silent), and forgets remote bookings at the TTL', () => {
    const { a, b, deliver } = pair();
    a.load.book('w0', { prefillTokens: 10, decodeBlocks: 1 }, 0);
    a.load.book('w1', { prefillTokens: 10, decodeBlocks: 1 }, 0);
    deliver('a', 0);
    expect(b.remoteBookings().get('a')).toBe(2);
    expect(b.dropOrigin('a')).toBe(2);
    expect(b.load.load('w0', 1).booked.inflightRequests + b.load.load('w1', 1).booked.inflightRequests).toBe(0);

    a.load.book('w0', { prefillTokens: 10, decodeBlocks: 1 }, 100);
    deliver('a', 100);
    expect(b.load.expire(100 + TTL)).toBe(1);
    expect(b.remoteBookings().get('a')).toBe(0);
    expect(b.load.load('w0', 100 + TTL).booked.inflightRequests).toBe(0);
  });

  it('publishes an expired own booking so the others drop it too', () => {
    const { a, b, deliver } = pair();
    a.load.book('w0', { prefillTokens: 10, decodeBlocks: 1 }, 0);
    deliver('a', 0);
    expect(a.load.expire(TTL)).toBe(1);
    // b's own clock has not reached the TTL yet: only the delta can tell it.
    deliver('a', 1);
    expect(b.load.load('w0', 1).booked.inflightRequests).toBe(0);
  });

  it('approximate mode: a prompt routed by one process counts as cached on the other', () => {
    const { a, b, deliver } = pair('approximate');
    const chain = createBlockHasher(1337).hashPrompt(
      Array.from({ length: 40 }, (_, i) => i),
      4,
    );
    a.index.registerWorker('w0', { blockSize: 4 });
    a.index.recordRouted('w0', chain, 0);
    expect(b.index.overlaps(chain, ['w0'])[0]).toBe(0);
    deliver('a', 0);
    expect(b.index.overlaps(chain, ['w0'])[0]).toBe(10);
  });

  it('precise mode publishes no index inserts (every process reads the KV events itself)', () => {
    const { a, outbox } = pair('precise');
    a.index.recordRouted('w0', createBlockHasher(1337).hashPrompt([1, 2, 3, 4, 5, 6, 7, 8], 4), 0);
    expect(outbox.a).toEqual([]);
  });
});

describe('sync message codec', () => {
  it('round-trips a message and refuses malformed ones with a reason, never a throw', () => {
    const message = {
      v: 1 as const,
      origin: 'h/1/ab',
      group: 'h/1/ab',
      seq: 3,
      deltas: [{ k: 'book' as const, id: 1, worker: 'w0', prefillTokens: 5, decodeBlocks: 1 }, { k: 'bye' as const }],
    };
    const decoded = decodeSyncMessage(encodeSyncMessage(message));
    expect(decoded.ok && decoded.value).toEqual(message);
    for (const [text, reason] of [
      ['nope', /not JSON/],
      ['{"v":2,"origin":"a","group":"a","seq":1,"deltas":[]}', /unknown version 2/],
      ['{"v":1,"origin":"","group":"a","seq":1,"deltas":[]}', /origin and group/],
      [
        '{"v":1,"origin":"a","group":"a","seq":1,"deltas":[{"k":"book","id":-1,"worker":"w","prefillTokens":1,"decodeBlocks":1}]}',
        /deltas\[0\]/,
      ],
      ['{"v":1,"origin":"a","group":"a","seq":1,"deltas":[{"k":"teleport"}]}', /deltas\[0\]/],
    ] as const) {
      const result = decodeSyncMessage(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.message).toMatch(reason);
    }
  });
});
