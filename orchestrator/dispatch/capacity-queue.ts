import type { Clock } from '../../common/clock.ts';
import { TandemError, toTandemError } from '../../common/errors.ts';

/**
 * The one admission queue: requests that found every eligible worker saturated wait here in
 * arrival order for a turn to try again. A turn comes when capacity may have freed (`wake`: a
 * request ended, a worker reported or came back) and every `pollMs` while anyone waits (load
 * reports and expiring bookings free capacity without an event).
 *
 * - A request that finds `maxQueued` already waiting is refused at once: rate_limited (429).
 * - One that has waited `timeoutMs` since it first queued gives up: unavailable (503).
 * Both carry Retry-After. A waiter whose signal aborts leaves with the signal's reason.
 * A waiter whose turn came but still found no room re-enters at its old place, not the back.
 */
export interface CapacityQueue {
  readonly length: number;
  /** A place in line, kept across turns (its arrival time and order). */
  ticket(): QueueTicket;
  /** Waits for the ticket's next turn. */
  waitTurn(ticket: QueueTicket, signal: AbortSignal): Promise<void>;
  /** Gives the first waiter a turn. */
  wake(): void;
  /** Refuses every waiter (shutdown) and any later arrival. */
  close(error: TandemError): void;
}

export interface QueueTicket {
  readonly seq: number;
  readonly enteredAtMs: number;
  /** True once it has waited (later turns are not counted against maxQueued again). */
  queued: boolean;
}

export interface CapacityQueueOptions {
  readonly maxQueued: number;
  readonly timeoutMs: number;
  readonly retryAfterS: number;
  readonly clock: Clock;
  /** Turn given to the first waiter this often while anyone waits, ms. Default 250. */
  readonly pollMs?: number;
  readonly onDepth?: (waiting: number) => void;
}

interface Waiter {
  readonly ticket: QueueTicket;
  turn(): void;
  fail(error: TandemError): void;
}

export function createCapacityQueue(options: CapacityQueueOptions): CapacityQueue {
  const waiters: Waiter[] = []; // ordered by ticket.seq
  const pollMs = options.pollMs ?? 250;
  let seq = 0;
  let cancelPoll: (() => void) | undefined;
  let closedWith: TandemError | undefined;
  const depth = () => options.onDepth?.(waiters.length);

  const schedulePoll = () => {
    if (cancelPoll || waiters.length === 0) return;
    cancelPoll = options.clock.setTimer(pollMs, () => {
      cancelPoll = undefined;
      queue.wake();
      schedulePoll();
    });
  };
  const insert = (waiter: Waiter) => {
    let at = waiters.length;
    while (at > 0 && waiters[at - 1]!.ticket.seq > waiter.ticket.seq) at--;
    waiters.splice(at, 0, waiter);
  };
  const remove = (waiter: Waiter): boolean => {
    const at = waiters.indexOf(waiter);
    if (at < 0) return false;
    waiters.splice(at, 1);
    return true;
  };

  const queue: CapacityQueue = {
    get length() {
      return waiters.length;
    },
    ticket: () => ({ seq: seq++, enteredAtMs: options.clock.now(), queued: false }),
    waitTurn(ticket, signal) {
      if (closedWith) return Promise.reject(closedWith);
      if (signal.aborted) return Promise.reject(toTandemError(signal.reason, 'cancelled'));
      if (!ticket.queued && waiters.length >= options.maxQueued) {
        return Promise.reject(
          new TandemError('rate_limited', `every worker is saturated and ${waiters.length} requests are already waiting; retry later`, { retryAfterS: options.retryAfterS }),
        );
      }
      const left = ticket.enteredAtMs + options.timeoutMs - options.clock.now();
      if (left <= 0) return Promise.reject(timedOut());
      ticket.queued = true;
      return new Promise<void>((resolve, reject) => {
        let cancelTimer = () => {};
        const finish = (error?: TandemError) => {
          cancelTimer();
          signal.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve();
        };
        const waiter: Waiter = { ticket, turn: () => finish(), fail: finish };
        const leaveWith = (error: TandemError) => {
          if (!remove(waiter)) return;
          depth();
          finish(error);
        };
        const onAbort = () => leaveWith(toTandemError(signal.reason, 'cancelled'));
        cancelTimer = options.clock.setTimer(left, () => leaveWith(timedOut()));
        signal.addEventListener('abort', onAbort, { once: true });
        insert(waiter);
        depth();
        schedulePoll();
      });
    },
    wake() {
      const first = waiters.shift();
      if (!first) return;
      depth();
      first.turn();
      if (waiters.length === 0) {
        cancelPoll?.();
        cancelPoll = undefined;
      }
    },
    close(error) {
      closedWith = error;
      cancelPoll?.();
      cancelPoll = undefined;
      for (const waiter of waiters.splice(0)) waiter.fail(error);
      depth();
    },
  };

  function timedOut(): TandemError {
    return new TandemError('unavailable', `every worker stayed saturated for ${options.timeoutMs / 1000} s; retry later`, { retryAfterS: options.retryAfterS });
  }
  return queue;
}
