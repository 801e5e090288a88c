import type { Clock } from '../../common/clock.ts';
import type { BookingId, BookingListener, BookingLoad, LoadBook } from '../load/index.ts';

/**
 * One booking lifecycle for every serving path (aggregated, disaggregated, prefill fallback,
 * decode retry, and the simulator through them):
 *
 *   book (router/disaggregator commit, or `book` here for a re-book) -> first token (its
 *   prefill part goes) -> touch while streaming (keeps it from expiring as lost, grows its
 *   decode blocks with the output) -> release (once, however the request ends).
 *
 * A `Booking` is the handle a serving path holds: `firstToken` and `release` are idempotent, so
 * every exit path may call them; `streamed` touches at most every `touchIntervalMs`. After each
 * change the worker's load is published (`onChange`, the dispatcher's gauges and queue wake-up).
 *
 * Seam for replicated routers: `observe(listener)` is told of every change of any booking, as
 * the delta it made to its worker's booked figures (kinds `booked`, `first-token`, `touched`,
 * `released`, `expired`; see orchestrator/load's BookingChange). Bookings expire inside the load
 * book, so the listener sits there and this delegates to it: a replica subscribes here once and
 * sees every booking the router makes, whichever file started it.
 */
export interface Booking {
  readonly id: BookingId;
  /** Tenant id the booking is on. */
  readonly worker: string;
  /** The worker produced the request's first token: its prefill tokens are no longer queued. Once. */
  firstToken(): void;
  /** `tokens` output tokens streamed so far: touches the booking (decode blocks = prompt + output) every touchIntervalMs. */
  streamed(tokens: number): void;
  /** The request ended on this worker (done, failed, cancelled): everything is released. Once. */
  release(): void;
  readonly released: boolean;
}

export interface BookingShape {
  /** Prompt tokens of the request, tokens. */
  readonly promptTokens: number;
  /** Tokens per KV block of the worker's pool. */
  readonly blockSize: number;
}

export interface Bookings {
  /** Takes over a booking made by `router.commit` / `disagg.commit` / `disagg.commitDecode`. */
  adopt(worker: string, id: BookingId, shape: BookingShape): Booking;
  /** Books anew (a request moved to another worker: a prefill fallback serves it aggregated there). */
  book(worker: string, load: BookingLoad, shape: BookingShape): Booking;
  /** Every change of any booking, as deltas to its worker's booked figures; returns the unsubscribe. */
  observe(listener: BookingListener): () => void;
}

export interface BookingsOptions {
  readonly load: LoadBook;
  readonly clock: Clock;
  /** How often a streaming request touches its booking, ms. */
  readonly touchIntervalMs: number;
  /** After a booking's first token or release (the worker's load changed), with its tenant id. */
  readonly onChange?: (worker: string) => void;
}

export function createBookings(options: BookingsOptions): Bookings {
  const { load, clock, touchIntervalMs } = options;
  const changed = options.onChange ?? (() => {});

  const adopt = (worker: string, id: BookingId, shape: BookingShape): Booking => {
    let prefilled = false;
    let released = false;
    let lastTouchMs = clock.now();
    return {
      id,
      worker,
      get released() {
        return released;
      },
      firstToken() {
        if (prefilled || released) return;
        prefilled = true;
        load.firstToken(id, clock.now());
        changed(worker);
      },
      streamed(tokens) {
        if (released) return;
        const now = clock.now();
        if (now - lastTouchMs < touchIntervalMs) return;
        lastTouchMs = now;
        load.touch(id, now, Math.ceil((shape.promptTokens + tokens) / shape.blockSize));
      },
      release() {
        if (released) return;
        released = true;
        load.release(id);
        changed(worker);
      },
    };
  };

  return {
    adopt,
    book(worker, booked, shape) {
      const booking = adopt(worker, load.book(worker, booked, clock.now()), shape);
      changed(worker);
      return booking;
    },
    observe: (listener) => load.observe(listener),
  };
}
