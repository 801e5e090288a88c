import type { KvIndex } from '../kv-index/index.ts';
import type { BookingId, BookingLoad, LoadBook } from '../load/index.ts';
import { wordsFromBase64, wordsToBase64, type SyncDelta } from './delta.ts';

export interface SyncedBookOptions {
  /** The process's own load book and index; remote bookings and inserts are applied to them. */
  readonly load: LoadBook;
  readonly index: KvIndex;
  /** Every local change, as a delta to publish. */
  readonly emit: (delta: SyncDelta) => void;
}

/**
 * The other processes' deltas applied to this process's load book and KV index, and this
 * process's own changes emitted as deltas. Own booking changes come from the load book's
 * `observe` seam (every change, whichever serving path or expiry made it: see
 * orchestrator/dispatch/booking.ts); approximate-index inserts from wrapping the index's
 * `recordRouted`. A remote booking is booked in the same book (so the router, the saturation
 * check and the report correction see it as any other) under a local id kept per (origin, id);
 * it ends by its own release, by the book's expiry (`bookingTtlMs` without a change), or all at
 * once when its origin says bye or falls silent (`dropOrigin`). Pure: time comes in as `nowMs`.
 */
export interface SyncedBook {
  /** The index to route with: `recordRouted` is also emitted (approximate mode). */
  readonly index: KvIndex;
  /** Applies one remote delta from `origin`. */
  apply(origin: string, delta: SyncDelta, nowMs: number): void;
  /** Releases every booking of `origin`; returns how many. */
  dropOrigin(origin: string): number;
  /** Remote bookings held now, per origin. */
  remoteBookings(): Map<string, number>;
  /** Stops observing the load book. */
  close(): void;
}

interface Own {
  readonly worker: string;
  prefillTokens: number;
  decodeBlocks: number;
}

export function createSyncedBook(options: SyncedBookOptions): SyncedBook {
  const { load: inner, index: innerIndex, emit } = options;
  /** This process's bookings as last told, to send a touch's whole state. */
  const own = new Map<BookingId, Own>();
  /** origin -> its booking id -> the local id it is booked under. */
  const remote = new Map<string, Map<number, BookingId>>();
  /** Local id of a remote booking -> where it came from. */
  const remoteByLocal = new Map<BookingId, { origin: string; id: number }>();
  const approximate = innerIndex.mode === 'approximate';
  /** Set while a remote delta is applied: those changes are not this process's to publish. */
  let applying = false;

  const forgetRemote = (local: BookingId) => {
    const from = remoteByLocal.get(local);
    if (!from) return;
    remoteByLocal.delete(local);
    remote.get(from.origin)?.delete(from.id);
  };

  const unobserve = inner.observe((change) => {
    if (applying) return;
    switch (change.kind) {
      case 'booked': {
        const mine = {
          worker: change.worker,
          prefillTokens: change.prefillTokensDelta,
          decodeBlocks: change.decodeBlocksDelta,
        };
        own.set(change.id, mine);
        emit({
          k: 'book',
          id: change.id,
          worker: change.worker,
          prefillTokens: Math.round(mine.prefillTokens),
          decodeBlocks: Math.round(mine.decodeBlocks),
        });
        return;
      }
      case 'first-token': {
        const mine = own.get(change.id);
        if (mine) mine.prefillTokens = 0;
        if (mine) emit({ k: 'first', id: change.id });
        return;
      }
      case 'touched': {
        const mine = own.get(change.id);
        if (!mine) return;
        mine.decodeBlocks = Math.max(0, mine.decodeBlocks + change.decodeBlocksDelta);
        emit({
          k: 'touch',
          id: change.id,
          worker: mine.worker,
          prefillTokens: Math.round(mine.prefillTokens),
          decodeBlocks: Math.round(mine.decodeBlocks),
        });
        return;
      }
      case 'released':
      case 'expired':
        if (own.delete(change.id)) emit({ k: change.kind === 'released' ? 'release' : 'expired', id: change.id });
        // A remote booking the book expired here (its origin went quiet about it).
        else forgetRemote(change.id);
        return;
    }
  });

  const remoteOf = (origin: string) => {
    let found = remote.get(origin);
    if (!found) remote.set(origin, (found = new Map()));
    return found;
  };
  const bookRemote = (origin: string, id: number, worker: string, figures: BookingLoad, nowMs: number) => {
    const local = inner.book(worker, figures, nowMs);
    remoteOf(origin).set(id, local);
    remoteByLocal.set(local, { origin, id });
  };
  const releaseRemote = (local: BookingId) => {
    remoteByLocal.delete(local);
    inner.release(local);
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
      if (approximate && chain.length > 0)
        emit({
          k: 'routed',
          worker: tenant,
          blockSize: chain.blockSize,
          blocks: chain.length,
          words: wordsToBase64(chain.words, chain.length),
        });
    },
    expire: (nowMs) => innerIndex.expire(nowMs),
    indexedBlocks: (tenant) => innerIndex.indexedBlocks(tenant),
    condition: (tenant) => innerIndex.condition(tenant),
    workerStats: (tenant) => innerIndex.workerStats(tenant),
    stats: () => innerIndex.stats(),
  };

  return {
    index,

    apply(origin, delta, nowMs) {
      applying = true;
      try {
        applyDelta(origin, delta, nowMs);
      } finally {
        applying = false;
      }
    },

    dropOrigin(origin) {
      const bookings = remote.get(origin);
      if (!bookings) return 0;
      applying = true;
      try {
        for (const local of bookings.values()) releaseRemote(local);
      } finally {
        applying = false;
      }
      remote.delete(origin);
      return bookings.size;
    },

    remoteBookings() {
      const out = new Map<string, number>();
      for (const [origin, bookings] of remote) out.set(origin, bookings.size);
      return out;
    },

    close: () => unobserve(),
  };

  function applyDelta(origin: string, delta: SyncDelta, nowMs: number): void {
    switch (delta.k) {
      case 'book': {
        const known = remote.get(origin)?.get(delta.id);
        if (known !== undefined) releaseRemote(known);
        bookRemote(origin, delta.id, delta.worker, delta, nowMs);
        return;
      }
      case 'touch': {
        const known = remote.get(origin)?.get(delta.id);
        if (known === undefined) {
          // A booking this process never saw (it started late, or a partition ate the book).
          bookRemote(origin, delta.id, delta.worker, delta, nowMs);
          return;
        }
        inner.touch(known, nowMs, delta.decodeBlocks);
        if (delta.prefillTokens === 0) inner.firstToken(known, nowMs);
        return;
      }
      case 'first': {
        const known = remote.get(origin)?.get(delta.id);
        if (known !== undefined) inner.firstToken(known, nowMs);
        return;
      }
      case 'release':
      case 'expired': {
        const bookings = remote.get(origin);
        const known = bookings?.get(delta.id);
        if (known === undefined) return;
        bookings!.delete(delta.id);
        releaseRemote(known);
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
      case 'bye': {
        const bookings = remote.get(origin);
        if (!bookings) return;
        for (const local of bookings.values()) releaseRemote(local);
        remote.delete(origin);
        return;
      }
    }
  }
}
