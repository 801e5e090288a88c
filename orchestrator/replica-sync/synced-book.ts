import type { KvIndex } from '../kv-index/index.ts';
import type { BookingId, BookingLoad, LoadBook } from '../load/index.ts';
import { wordsFromBase64, wordsToBase64, type SyncDelta } from './delta.ts';

export interface SyncedBookOptions {
  /** The process's own load book and index; remote bookings and inserts are applied to them. */
  readonly load: LoadBook;
  readonly index: KvIndex;
  /** The load book's booking TTL, ms: remote bookings not touched for this long are forgotten too. */
  readonly bookingTtlMs: number;
  /** Every local change, as a delta to publish. */
  readonly emit: (delta: SyncDelta) => void;
}

/**
 * The load book and KV index the router uses, with the other processes' deltas applied to them.
 * Local bookings go to the wrapped book unchanged and each change is emitted as a delta; a remote
 * booking is booked in the same book (so the router, the saturation check and the report
 * correction see it as any other) under a local id kept per (origin, id). Remote bookings end
 * by their own release, by expiry (`bookingTtlMs` without a touch), or all at once when their
 * origin says bye or falls silent (`dropOrigin`). Pure: time comes in as `nowMs`.
 */
export interface SyncedBook {
  readonly load: LoadBook;
  readonly index: KvIndex;
  /** Applies one remote delta from `origin`. */
  apply(origin: string, delta: SyncDelta, nowMs: number): void;
  /** Releases every booking of `origin`; returns how many. */
  dropOrigin(origin: string): number;
  /** Remote bookings held now, per origin. */
  remoteBookings(): Map<string, number>;
}

interface Own {
  readonly worker: string;
  prefillTokens: number;
  decodeBlocks: number;
  lastSeenMs: number;
}

interface Remote {
  readonly local: BookingId;
  readonly worker: string;
  lastSeenMs: number;
}

export function createSyncedBook(options: SyncedBookOptions): SyncedBook {
  const { load: inner, index: innerIndex, emit, bookingTtlMs } = options;
  const own = new Map<BookingId, Own>();
  const remote = new Map<string, Map<number, Remote>>();
  const approximate = innerIndex.mode === 'approximate';

  const remoteOf = (origin: string) => {
    let found = remote.get(origin);
    if (!found) remote.set(origin, (found = new Map()));
    return found;
  };

  const bookRemote = (origin: string, id: number, worker: string, figures: BookingLoad, nowMs: number) => {
    const local = inner.book(worker, figures, nowMs);
    remoteOf(origin).set(id, { local, worker, lastSeenMs: nowMs });
  };

  const load: LoadBook = {
    book(worker, figures, nowMs) {
      const id = inner.book(worker, figures, nowMs);
      const prefillTokens = Math.max(0, Math.round(figures.prefillTokens));
      const decodeBlocks = Math.max(0, Math.round(figures.decodeBlocks));
      own.set(id, { worker, prefillTokens, decodeBlocks, lastSeenMs: nowMs });
      emit({ k: 'book', id, worker, prefillTokens, decodeBlocks });
      return id;
    },
    firstToken(id, nowMs) {
      inner.firstToken(id, nowMs);
      const mine = own.get(id);
      if (!mine) return;
      mine.prefillTokens = 0;
      mine.lastSeenMs = nowMs;
      emit({ k: 'first', id });
    },
    release(id) {
      inner.release(id);
      if (own.delete(id)) emit({ k: 'release', id });
    },
    touch(id, nowMs, decodeBlocks) {
      inner.touch(id, nowMs, decodeBlocks);
      const mine = own.get(id);
      if (!mine) return;
      mine.lastSeenMs = nowMs;
      if (decodeBlocks !== undefined) mine.decodeBlocks = Math.max(0, Math.round(decodeBlocks));
      emit({ k: 'touch', id, worker: mine.worker, prefillTokens: mine.prefillTokens, decodeBlocks: mine.decodeBlocks });
    },
    report: (worker, report, nowMs) => inner.report(worker, report, nowMs),
    load: (worker, nowMs) => inner.load(worker, nowMs),
    expire(nowMs) {
      const expired = inner.expire(nowMs);
      if (expired === 0) return 0;
      // The wrapped book dropped whatever was due by the same rule: forget those ids too.
      for (const [id, mine] of own) {
        if (mine.lastSeenMs + bookingTtlMs <= nowMs) {
          own.delete(id);
          emit({ k: 'expired', id });
        }
      }
      for (const bookings of remote.values()) for (const [id, r] of bookings) if (r.lastSeenMs + bookingTtlMs <= nowMs) bookings.delete(id);
      return expired;
    },
    removeWorker(worker) {
      inner.removeWorker(worker);
      for (const [id, mine] of own) if (mine.worker === worker) own.delete(id);
      for (const bookings of remote.values()) for (const [id, r] of bookings) if (r.worker === worker) bookings.delete(id);
    },
    workers: () => inner.workers(),
  };

  const index: KvIndex = {
    get mode() {
      return innerIndex.mode;
    },
    registerWorker: (tenant, o) => innerIndex.registerWorker(tenant, o),
    blockSizeOf: (tenant) => innerIndex.blockSizeOf(tenant),
    clearWorker: (tenant, reason) => innerIndex.clearWorker(tenant, reason),
    removeWorker: (tenant) => innerIndex.removeWorker(tenant),
    overlaps: (chain, tenants, out) => innerIndex.overlaps(chain, tenants, out),
    applyBatch: (tenant, batch) => innerIndex.applyBatch(tenant, batch),
    recordRouted(tenant, chain, nowMs) {
      innerIndex.recordRouted(tenant, chain, nowMs);
      if (approximate && chain.length > 0) emit({ k: 'routed', worker: tenant, blockSize: chain.blockSize, blocks: chain.length, words: wordsToBase64(chain.words, chain.length) });
    },
    expire: (nowMs) => innerIndex.expire(nowMs),
    indexedBlocks: (tenant) => innerIndex.indexedBlocks(tenant),
    condition: (tenant) => innerIndex.condition(tenant),
    workerStats: (tenant) => innerIndex.workerStats(tenant),
    stats: () => innerIndex.stats(),
  };

  return {
    load,
    index,

    apply(origin, delta, nowMs) {
      switch (delta.k) {
        case 'book': {
          const known = remote.get(origin)?.get(delta.id);
          if (known) inner.release(known.local);
          bookRemote(origin, delta.id, delta.worker, delta, nowMs);
          return;
        }
        case 'touch': {
          const known = remote.get(origin)?.get(delta.id);
          if (!known) {
            // A booking this process never saw (it started late, or a partition ate the book).
            bookRemote(origin, delta.id, delta.worker, delta, nowMs);
            return;
          }
          known.lastSeenMs = nowMs;
          inner.touch(known.local, nowMs, delta.decodeBlocks);
          if (delta.prefillTokens === 0) inner.firstToken(known.local, nowMs);
          return;
        }
        case 'first': {
          const known = remote.get(origin)?.get(delta.id);
          if (!known) return;
          known.lastSeenMs = nowMs;
          inner.firstToken(known.local, nowMs);
          return;
        }
        case 'release':
        case 'expired': {
          const bookings = remote.get(origin);
          const known = bookings?.get(delta.id);
          if (!known) return;
          bookings!.delete(delta.id);
          inner.release(known.local);
          return;
        }
        case 'routed': {
          if (!approximate) return;
          const words = wordsFromBase64(delta.words, delta.blocks);
          if (words === null) return;
          const size = innerIndex.blockSizeOf(delta.worker);
          if (size === undefined) innerIndex.registerWorker(delta.worker, { blockSize: delta.blockSize });
          else if (size !== delta.blockSize) return;
          innerIndex.recordRouted(delta.worker, { blockSize: delta.blockSize, length: delta.blocks, words }, nowMs);
          return;
        }
        case 'bye':
          this.dropOrigin(origin);
          return;
      }
    },

    dropOrigin(origin) {
      const bookings = remote.get(origin);
      if (!bookings) return 0;
      for (const r of bookings.values()) inner.release(r.local);
      remote.delete(origin);
      return bookings.size;
    },

    remoteBookings() {
      const out = new Map<string, number>();
      for (const [origin, bookings] of remote) out.set(origin, bookings.size);
      return out;
    },
  };
}
