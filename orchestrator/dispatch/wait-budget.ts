/**
 * How long a request may wait in the admission queue (capacity-queue.ts), and whether an arrival
 * may join the line at all: the one rule, pure, in one place.
 *
 * A request that waits W in line gets its first token after W + T, where T is what the fleet
 * takes to give a request its first token once it is placed on a worker (no wait). Holding
 * arrivals up to the SLO-derived `queue_timeout_s` (half the TTFT SLO, 500 ms by default) when
 * the fleet answers in T = 10 ms makes every admitted request 50 x slower than one that did not
 * wait, to keep a line nobody needs: at overload, arrivals come faster than slots free, so a
 * freed slot is refilled from the next arrival within a few ms anyway. So:
 *
 * - budget = min(timeout, factor x T), where T is a running high quantile of the fleet's
 *   placed-to-first-token time (`createTtftEstimate`) and factor is
 *   `admission.queue_wait_ttft_factor` (default 2: an admitted request's TTFT stays within
 *   (1 + factor) x what the fleet gives a request that does not wait). Before any T is known,
 *   the timeout.
 * - An arrival finding `waiting` requests in line, which drains at `rate` per second, expects to
 *   wait (waiting + 1) / rate seconds. It joins the line when that fits the budget, or when the
 *   line is empty (one waiter is always allowed, so a slot that frees is refilled at once rather
 *   than at the next arrival); otherwise it is refused at once (429), as it is past `maxQueued`.
 *   With no rate known yet, only `maxQueued` and the timeout bound the line.
 * - A request in line waits at most the budget it was given when it joined, then gives up (503).
 *   The rate is an average and slots free in bursts (requests that started together end
 *   together), so a line of one can stand still for longer than its expected wait; this bound
 *   is what keeps an admitted request's TTFT within (1 + factor) x T, not the expected wait.
 *
 * Units: ms for times, requests per second for the rate.
 */

export interface WaitBudget {
  /** The longest an arrival may expect to wait in line now, ms. */
  readonly budgetMs: number;
  /** The fleet's placed-to-first-token estimate it came from, ms; undefined: none yet (budget = timeout). */
  readonly ttftMs: number | undefined;
}

/** budget = min(timeoutMs, factor x ttftMs); the timeout when no TTFT is known. */
export function waitBudget(ttftMs: number | undefined, factor: number, timeoutMs: number): WaitBudget {
  if (ttftMs === undefined) return { budgetMs: timeoutMs, ttftMs };
  return { budgetMs: Math.min(timeoutMs, factor * ttftMs), ttftMs };
}

export type ArrivalVerdict =
  | { readonly kind: 'queue' }
  /** The line holds `maxQueued` already. */
  | { readonly kind: 'full'; readonly maxQueued: number }
  /** The expected wait (s) does not fit the budget. */
  | { readonly kind: 'too-long'; readonly expectedWaitS: number };

/** Whether an arrival that finds `waiting` in line may join it (see the file's header). */
export function arrivalVerdict(
  waiting: number,
  maxQueued: number,
  ratePerS: number | undefined,
  budgetMs: number,
): ArrivalVerdict {
  if (waiting >= maxQueued) return { kind: 'full', maxQueued };
  if (waiting === 0 || ratePerS === undefined) return { kind: 'queue' };
  const expectedWaitS = (waiting + 1) / ratePerS;
  return expectedWaitS * 1000 > budgetMs ? { kind: 'too-long', expectedWaitS } : { kind: 'queue' };
}

export interface TtftEstimate {
  /** One request's time from being placed on a worker to its first token, ms. */
  add(ms: number): void;
  /** The `quantile` of the last `samples` added, ms; undefined before `minSamples`. */
  estimateMs(): number | undefined;
}

export interface TtftEstimateOptions {
  /** How many recent requests the estimate covers. Default 256. */
  readonly samples?: number;
  /** Which quantile of them, 0..1. Default 0.9 (a tail, without one GC pause ruling it). */
  readonly quantile?: number;
  /** Samples needed before there is an estimate. Default 16. */
  readonly minSamples?: number;
}

/**
 * The fleet's TTFT for a request that does not wait: a high quantile of the last few hundred
 * placed-to-first-token times (a ring; the quantile is recomputed only after a new sample).
 * Kept over samples, not time, so it holds its value while nobody is served.
 */
export function createTtftEstimate(options: TtftEstimateOptions = {}): TtftEstimate {
  const size = options.samples ?? 256;
  const quantile = options.quantile ?? 0.9;
  const minSamples = Math.min(options.minSamples ?? 16, size);
  const ring = new Float64Array(size);
  let count = 0;
  let cached: number | undefined;
  let stale = false;
  return {
    add(ms) {
      if (!Number.isFinite(ms) || ms < 0) return;
      ring[count % size] = ms;
      count++;
      stale = true;
    },
    estimateMs() {
      if (count < minSamples) return undefined;
      if (stale) {
        const sorted = ring.slice(0, Math.min(count, size)).sort();
        cached = sorted[Math.min(sorted.length - 1, Math.floor(quantile * sorted.length))]!;
        stale = false;
      }
      return cached;
    },
  };
}
