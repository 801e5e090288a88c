/**
 * Per-worker load as the router sees it: what it booked itself (at routing: prefill tokens,
 * released at the first token; decode blocks, released at stream end), corrected by what the
 * worker last reported (GetStatus, or vLLM's /metrics). Pure: time comes in as `nowMs`.
 *
 * Correction rule: a fresh report (younger than `reportMaxAgeMs`) is the truth at its time, and
 * the router's bookings since then are added to it: `estimate = max(0, reported + (booked_now -
 * booked_at_report))`. So traffic from other router replicas and work the router never saw show
 * up, and the router's own decisions still count between reports. A stale or missing report
 * leaves the router's own bookings.
 *
 * Bookings whose stream is lost (no release, no touch for `bookingTtlMs`) expire.
 *
 * Every change of a booking (booked, first token, touched with new decode blocks, released,
 * expired) is told to the listeners of `observe`, as the change it made to its worker's booked
 * figures: the seam a replicated router syncs its bookings through. The booking lifecycle the
 * serving paths use is orchestrator/dispatch/booking.ts.
 */
export interface BookingLoad {
  /** Prompt tokens the worker has to prefill (prompt minus its cached prefix), tokens. */
  readonly prefillTokens: number;
  /** KV blocks the request will hold while it decodes, blocks. */
  readonly decodeBlocks: number;
}

/** What a worker reported; every field optional (vLLM's metrics have no queued tokens, say). */
export interface WorkerReport {
  readonly runningRequests?: number;
  readonly waitingRequests?: number;
  /** Prompt tokens admitted and not yet prefilled, tokens. */
  readonly queuedPrefillTokens?: number;
  /** KV blocks in use by running requests, blocks. */
  readonly activeKvBlocks?: number;
  /** KV-cache usage in [0, 1] (vllm:kv_cache_usage_perc); used with totalKvBlocks when activeKvBlocks is absent. */
  readonly kvUsage?: number;
  readonly totalKvBlocks?: number;
}

export interface LoadFigures {
  /** Requests routed and not finished (reported: running + waiting). */
  readonly inflightRequests: number;
  readonly queuedPrefillTokens: number;
  readonly activeDecodeBlocks: number;
}

export interface WorkerLoad extends LoadFigures {
  /** The router's own bookings alone. */
  readonly booked: LoadFigures;
  /** Age of the report used, ms; null when none is fresh. */
  readonly reportAgeMs: number | null;
  /** Bookings of this worker expired so far (lost streams). */
  readonly expiredBookings: number;
}

export type BookingId = number;

/** What changed a booking; `touched` only when its decode blocks changed. */
export type BookingChangeKind = 'booked' | 'first-token' | 'touched' | 'released' | 'expired';

/**
 * One change to a booking, as the change to its worker's booked figures (positive: more load).
 * A release or an expiry carries minus what the booking still held.
 */
export interface BookingChange {
  readonly kind: BookingChangeKind;
  readonly id: BookingId;
  readonly worker: string;
  /** Change in the worker's booked requests: +1 booked, -1 released or expired, else 0. */
  readonly inflightDelta: number;
  /** Change in booked queued prefill, tokens. */
  readonly prefillTokensDelta: number;
  /** Change in booked decode blocks, blocks. */
  readonly decodeBlocksDelta: number;
}

export type BookingListener = (change: BookingChange) => void;

export interface LoadBookOptions {
  /** A booking not released nor touched for this long is dropped, ms (Dynamo: 300 s). */
  readonly bookingTtlMs: number;
  /** Reports older than this are ignored, ms. */
  readonly reportMaxAgeMs: number;
}

export interface LoadBook {
  /** Books a routed request on a worker; returns the handle to release it with. */
  book(worker: string, load: BookingLoad, nowMs: number): BookingId;
  /** The first token came: the worker finished prefilling, release the prefill tokens. */
  firstToken(id: BookingId, nowMs: number): void;
  /** The stream ended (done, failed or cancelled): release everything. Unknown ids are ignored. */
  release(id: BookingId): void;
  /** Keeps a long stream's booking alive; optionally updates its decode blocks (KV grows with output). */
  touch(id: BookingId, nowMs: number, decodeBlocks?: number): void;
  report(worker: string, report: WorkerReport, nowMs: number): void;
  load(worker: string, nowMs: number): WorkerLoad;
  /** Drops expired bookings; returns how many. Cheap when none can be due. */
  expire(nowMs: number): number;
  /** Forgets a worker and its bookings. */
  removeWorker(worker: string): void;
  workers(): string[];
  /** Calls `listener` after every change of a booking (see BookingChange); returns the unsubscribe. */
  observe(listener: BookingListener): () => void;
}

interface Booking {
  readonly worker: WorkerState;
  readonly name: string;
  prefillTokens: number;
  decodeBlocks: number;
  lastSeenMs: number;
}

interface Counters {
  inflight: number;
  prefill: number;
  decode: number;
}

interface WorkerState {
  readonly booked: Counters;
  report: {
    atMs: number;
    inflight: number | null;
    prefill: number | null;
    decode: number | null;
    bookedThen: Counters;
  } | null;
  expired: number;
}

const ZERO: LoadFigures = Object.freeze({ inflightRequests: 0, queuedPrefillTokens: 0, activeDecodeBlocks: 0 });

export function createLoadBook(options: LoadBookOptions): LoadBook {
  const workers = new Map<string, WorkerState>();
  const bookings = new Map<BookingId, Booking>();
  let nextId = 1;
  /** No booking can expire before this time, ms. */
  let nextExpiryMs = Number.POSITIVE_INFINITY;
  let listeners: BookingListener[] = [];
  const tell = (
    kind: BookingChangeKind,
    id: BookingId,
    booking: Booking,
    inflightDelta: number,
    prefillTokensDelta: number,
    decodeBlocksDelta: number,
  ) => {
    if (listeners.length === 0) return;
    const change: BookingChange = {
      kind,
      id,
      worker: booking.name,
      inflightDelta,
      prefillTokensDelta,
      decodeBlocksDelta,
    };
    for (const listener of listeners) listener(change);
  };

  const state = (worker: string): WorkerState => {
    let found = workers.get(worker);
    if (!found) {
      found = { booked: { inflight: 0, prefill: 0, decode: 0 }, report: null, expired: 0 };
      workers.set(worker, found);
    }
    return found;
  };

  const drop = (id: BookingId, booking: Booking, kind: 'released' | 'expired') => {
    bookings.delete(id);
    const booked = booking.worker.booked;
    booked.inflight--;
    booked.prefill -= booking.prefillTokens;
    booked.decode -= booking.decodeBlocks;
    tell(kind, id, booking, -1, 0 - booking.prefillTokens, 0 - booking.decodeBlocks);
  };

  const corrected = (reported: number | null, now: number, then: number): number =>
    reported === null ? now : Math.max(0, reported + now - then);

  return {
    book(worker, load, nowMs) {
      const w = state(worker);
      const id = nextId++;
      const booking: Booking = {
        worker: w,
        name: worker,
        prefillTokens: Math.max(0, load.prefillTokens),
        decodeBlocks: Math.max(0, load.decodeBlocks),
        lastSeenMs: nowMs,
      };
      bookings.set(id, booking);
      w.booked.inflight++;
      w.booked.prefill += booking.prefillTokens;
      w.booked.decode += booking.decodeBlocks;
      nextExpiryMs = Math.min(nextExpiryMs, nowMs + options.bookingTtlMs);
      tell('booked', id, booking, 1, booking.prefillTokens, booking.decodeBlocks);
      return id;
    },

    firstToken(id, nowMs) {
      const booking = bookings.get(id);
      if (!booking) return;
      const released = booking.prefillTokens;
      booking.worker.booked.prefill -= released;
      booking.prefillTokens = 0;
      booking.lastSeenMs = nowMs;
      if (released !== 0) tell('first-token', id, booking, 0, -released, 0);
    },

    release(id) {
      const booking = bookings.get(id);
      if (booking) drop(id, booking, 'released');
    },

    touch(id, nowMs, decodeBlocks) {
      const booking = bookings.get(id);
      if (!booking) return;
      booking.lastSeenMs = nowMs;
      if (decodeBlocks !== undefined) {
        const next = Math.max(0, decodeBlocks);
        const delta = next - booking.decodeBlocks;
        booking.worker.booked.decode += delta;
        booking.decodeBlocks = next;
        if (delta !== 0) tell('touched', id, booking, 0, 0, delta);
      }
    },

    report(worker, report, nowMs) {
      const w = state(worker);
      const running = report.runningRequests;
      const waiting = report.waitingRequests;
      const inflight = running === undefined && waiting === undefined ? null : (running ?? 0) + (waiting ?? 0);
      const decode =
        report.activeKvBlocks ??
        (report.kvUsage !== undefined && report.totalKvBlocks !== undefined
          ? Math.round(report.kvUsage * report.totalKvBlocks)
          : null);
      w.report = {
        atMs: nowMs,
        inflight,
        prefill: report.queuedPrefillTokens ?? null,
        decode,
        bookedThen: { inflight: w.booked.inflight, prefill: w.booked.prefill, decode: w.booked.decode },
      };
    },

    load(worker, nowMs) {
      // Object literals only: spreading into a literal with more keys is ~100x slower on Node 20.
      const w = workers.get(worker);
      if (!w)
        return {
          inflightRequests: 0,
          queuedPrefillTokens: 0,
          activeDecodeBlocks: 0,
          booked: ZERO,
          reportAgeMs: null,
          expiredBookings: 0,
        };
      const b = w.booked;
      const booked: LoadFigures = {
        inflightRequests: b.inflight,
        queuedPrefillTokens: b.prefill,
        activeDecodeBlocks: b.decode,
      };
      const r = w.report;
      if (!r || nowMs - r.atMs > options.reportMaxAgeMs) {
        return {
          inflightRequests: b.inflight,
          queuedPrefillTokens: b.prefill,
          activeDecodeBlocks: b.decode,
          booked,
          reportAgeMs: null,
          expiredBookings: w.expired,
        };
      }
      return {
        inflightRequests: corrected(r.inflight, b.inflight, r.bookedThen.inflight),
        queuedPrefillTokens: corrected(r.prefill, b.prefill, r.bookedThen.prefill),
        activeDecodeBlocks: corrected(r.decode, b.decode, r.bookedThen.decode),
        booked,
        reportAgeMs: nowMs - r.atMs,
        expiredBookings: w.expired,
      };
    },

    expire(nowMs) {
      if (nowMs < nextExpiryMs) return 0;
      let expired = 0;
      let earliest = Number.POSITIVE_INFINITY;
      for (const [id, booking] of bookings) {
        const due = booking.lastSeenMs + options.bookingTtlMs;
        if (due <= nowMs) {
          booking.worker.expired++;
          drop(id, booking, 'expired');
          expired++;
        } else if (due < earliest) {
          earliest = due;
        }
      }
      nextExpiryMs = earliest;
      return expired;
    },

    removeWorker(worker) {
      const w = workers.get(worker);
      if (!w) return;
      for (const [id, booking] of bookings) if (booking.worker === w) bookings.delete(id);
      workers.delete(worker);
    },

    workers: () => [...workers.keys()],

    observe(listener) {
      listeners = [...listeners, listener];
      return () => {
        listeners = listeners.filter((l) => l !== listener);
      };
    },
  };
}
