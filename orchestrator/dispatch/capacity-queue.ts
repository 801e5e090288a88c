import type { Clock } from '../../common/clock.ts';
import { TandemError, toTandemError } from '../../common/errors.ts';
import { arrivalVerdict, waitBudget, type WaitBudget } from './wait-budget.ts';

/**
 * The one admission queue: requests that found every eligible worker saturated wait here in
 * arrival order for a turn to try again. A turn comes when capacity may have freed (`wake`: a
 * request ended, a worker reported or came back) and every `pollMs` while anyone waits (load
 * reports and expiring bookings free capacity without an event).
 *
 * Overload fails fast and says how long to wait:
 * - The queue measures how fast it drains (requests placed on a worker, per second, over the
 *   last `rateWindowMs`: while every worker is full, that is the rate slots free). An arrival
 *   whose expected wait, (waiting + 1) / rate, does not fit the waiting budget (wait-budget.ts:
 *   `waitFactor` x the fleet's TTFT for a request that does not wait, at most `timeoutMs`) is
 *   refused at once, unless the line is empty.
 * - A request that finds `maxQueued` already waiting is refused at once.
 * - Both refusals are rate_limited (429); one that has waited its budget (as it was when it
 *   joined) since it first queued gives up: unavailable (503). Completions come in bursts, so
 *   a line the rate says drains in 20 ms can stand still for longer; the budget bounds the wait.
 * - Each refusal carries Retry-After = the time the current line takes to drain at the measured
 *   rate (at least 1 s); before any rate is known, `timeoutMs`.
 * A waiter whose signal aborts leaves with the signal's reason. A waiter whose turn came but
 * still found no room re-enters at its old place, not the back.
 *
 * Not p-queue (which the frontend's in-flight bound uses): here a turn is not a slot. Room is a
 * property of the fleet (each worker's bookings and reports, read at every attempt), a waiter
 * given a turn may find none and must go back to its old place, and turns come from outside
 * (`wake`, the poll); p-queue's concurrency counter and its queue, which only moves forward, express none of that.
 */
export interface CapacityQueue {
  readonly length: number;
  /** A place in line, kept across turns (its arrival time and order). */
  ticket(): QueueTicket;
  /**
   * The refusal an arrival now would get at once (the line full, or its expected wait past the
   * timeout), or undefined: lets the frontend refuse before tokenizing. Cheap, changes nothing.
   */
  refusal(): TandemError | undefined;
  /** Waits for the ticket's next turn. */
  waitTurn(ticket: QueueTicket, signal: AbortSignal): Promise<void>;
  /**
   * Gives the first waiter a turn. With `after` (its waiter found no room yet), the turn passes
   * to the first waiter behind that ticket instead, at most `maxPasses` times per plain wake:
   * a full worker blocks only the requests that want it, and a long line costs a bounded number
   * of tries per freed slot.
   */
  wake(after?: QueueTicket): void;
  /** A request found a worker, after queueing or at once: the drain rate counts it. */
  placed(): void;
  /** Seconds the current line takes to drain at the measured rate, or undefined before a rate is known. */
  drainSeconds(): number | undefined;
  /** Refuses every waiter (shutdown) and any later arrival. */
  close(error: TandemError): void;
}

export interface QueueTicket {
  readonly seq: number;
  readonly enteredAtMs: number;
  /** True once it has waited (later turns are not counted against maxQueued again). */
  queued: boolean;
  /** The waiting budget when it joined the line: it waits at most budgetMs in all. */
  budget: WaitBudget | undefined;
}

export interface CapacityQueueOptions {
  /** Most requests waiting at once; a function is read at each arrival (a bound that follows the fleet). */
  readonly maxQueued: number | (() => number);
  /** Longest a request waits in line (then 503), ms; also the cap on the waiting budget. */
  readonly timeoutMs: number;
  /** The fleet's placed-to-first-token time, ms (wait-budget.ts's estimate); undefined or absent: the budget is `timeoutMs`. */
  readonly ttftMs?: () => number | undefined;
  /** Waiting budget = waitFactor x ttftMs (at most timeoutMs). Default 2. */
  readonly waitFactor?: number;
  /** Window over which the drain rate is measured, ms. Default 5000. */
  readonly rateWindowMs?: number;
  readonly clock: Clock;
  /** Turn given to the first waiter this often while anyone waits, ms. Default 250. */
  readonly pollMs?: number;
  /** Most times one turn is passed on behind a waiter that found no room. Default 16. */
  readonly maxPasses?: number;
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
  const maxPasses = options.maxPasses ?? 16;
  /** Times the current turn has been passed on. */
  let passes = 0;
  const rateWindowMs = options.rateWindowMs ?? 5000;
  const maxQueued = typeof options.maxQueued === 'function' ? options.maxQueued : () => options.maxQueued as number;
  const waitFactor = options.waitFactor ?? 2;
  /** When requests found a worker (ms, ascending), the last rateWindowMs of them. */
  const departures: number[] = [];
  let departuresHead = 0;
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

  /** Requests placed per second over the window; undefined with fewer than 4 in it. */
  const drainRate = (now: number): number | undefined => {
    while (departuresHead < departures.length && departures[departuresHead]! < now - rateWindowMs) departuresHead++;
    if (departuresHead > 1024 && departuresHead * 2 > departures.length) {
      departures.splice(0, departuresHead);
      departuresHead = 0;
    }
    const n = departures.length - departuresHead;
    if (n < 4) return undefined;
    // Over the span actually observed, so a queue that formed a second ago is not diluted.
    const spanMs = Math.max(now - departures[departuresHead]!, 250);
    return (n / Math.min(spanMs, rateWindowMs)) * 1000;
  };
  const drainSeconds = (now: number): number | undefined => {
    const rate = drainRate(now);
    return rate === undefined ? undefined : waiters.length / rate;
  };
  const retryAfter = (now: number) => Math.max(1, Math.ceil(drainSeconds(now) ?? options.timeoutMs / 1000));
  const seconds = (s: number) => (s < 10 ? s.toFixed(1) : s.toFixed(0));
  const millis = (ms: number) => (ms < 10 ? ms.toFixed(1) : ms.toFixed(0));
  /** A duration in seconds, said in ms below 1 s. */
  const duration = (s: number) => (s < 1 ? `${millis(s * 1000)} ms` : `${seconds(s)} s`);
  const budgetNow = () => waitBudget(options.ttftMs?.(), waitFactor, options.timeoutMs);
  /** Where a budget comes from, in words. */
  const budgetWhy = (budget: WaitBudget) =>
    budget.ttftMs === undefined || budget.budgetMs === options.timeoutMs
      ? 'the queue timeout'
      : `${waitFactor} x the ${millis(budget.ttftMs)} ms the workers take to a first token`;
  /** Why an arrival at `now` is refused at once, if it is (the rule: wait-budget.ts). */
  const arrivalRefusal = (now: number, budget = budgetNow()): TandemError | undefined => {
    const rate = drainRate(now);
    const verdict = arrivalVerdict(waiters.length, maxQueued(), rate, budget.budgetMs);
    if (verdict.kind === 'queue') return undefined;
    const why =
      verdict.kind === 'full'
        ? `${waiters.length} requests are already waiting (the most this server queues is ${verdict.maxQueued})`
        : `the ${waiters.length} requests waiting take about ${duration(waiters.length / rate!)} to start ` +
          `at the current rate of ${seconds(rate!)} per second, ` +
          `longer than a request may wait now (${millis(budget.budgetMs)} ms: ${budgetWhy(budget)})`;
    return new TandemError('rate_limited', `every worker is saturated and ${why}; retry later`, {
      retryAfterS: retryAfter(now),
    });
  };

  const queue: CapacityQueue = {
    get length() {
      return waiters.length;
    },
    ticket: () => ({ seq: seq++, enteredAtMs: options.clock.now(), queued: false, budget: undefined }),
    // Nobody waiting: an arrival tries the workers first, so only a line can refuse it unseen.
    refusal: () => closedWith ?? (waiters.length === 0 ? undefined : arrivalRefusal(options.clock.now())),
    waitTurn(ticket, signal) {
      if (closedWith) return Promise.reject(closedWith);
      if (signal.aborted) return Promise.reject(toTandemError(signal.reason, 'cancelled'));
      const now = options.clock.now();
      if (!ticket.queued) {
        const budget = budgetNow();
        const refused = arrivalRefusal(now, budget);
        if (refused) return Promise.reject(refused);
        ticket.budget = budget;
      }
      const left = ticket.enteredAtMs + (ticket.budget?.budgetMs ?? options.timeoutMs) - now;
      if (left <= 0) return Promise.reject(timedOut(ticket));
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
        cancelTimer = options.clock.setTimer(left, () => leaveWith(timedOut(ticket)));
        signal.addEventListener('abort', onAbort, { once: true });
        insert(waiter);
        depth();
        schedulePoll();
      });
    },
    wake(after) {
      let at = 0;
      if (after) {
        if (++passes > maxPasses) return;
        while (at < waiters.length && waiters[at]!.ticket.seq <= after.seq) at++;
      } else passes = 0;
      const first = waiters[at];
      if (!first) return;
      waiters.splice(at, 1);
      depth();
      first.turn();
      if (waiters.length === 0) {
        cancelPoll?.();
        cancelPoll = undefined;
      }
    },
    placed() {
      departures.push(options.clock.now());
    },
    drainSeconds: () => drainSeconds(options.clock.now()),
    close(error) {
      closedWith = error;
      cancelPoll?.();
      cancelPoll = undefined;
      for (const waiter of waiters.splice(0)) waiter.fail(error);
      depth();
    },
  };

  function timedOut(ticket: QueueTicket): TandemError {
    const budget = ticket.budget;
    const waited =
      budget === undefined || budget.budgetMs === options.timeoutMs
        ? `the ${options.timeoutMs / 1000} s a request may wait`
        : `the ${millis(budget.budgetMs)} ms it could wait (${budgetWhy(budget)})`;
    return new TandemError('unavailable', `every worker stayed saturated for ${waited}; retry later`, {
      retryAfterS: retryAfter(options.clock.now()),
    });
  }
  return queue;
}
