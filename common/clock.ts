/**
 * Time, injected. Everything that waits or reads the time takes a Clock, so the same code runs
 * on the wall clock in a server and on a virtual clock in tests and the cluster simulator.
 * Times are milliseconds: since the Unix epoch for the real clock, since the process started for
 * the monotonic one, since the virtual clock's origin (default 0) for a virtual one.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  now(): number;
  /** Calls `fn` once after `delayMs` (>= 0) of this clock's time; returns a cancel function. */
  setTimer(delayMs: number, fn: () => void): () => void;
  /** Resolves after `delayMs`; rejects with the signal's reason if it aborts first. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

export function createRealClock(): Clock {
  return timersOn(() => Date.now());
}

/**
 * A Clock on the process's monotonic high-resolution timer: fractional milliseconds since the
 * process started, never stepped by NTP (Date.now() has 1 ms resolution and can jump). For
 * measuring latencies (the live load generator's TTFT and token gaps), not for timestamps.
 */
export function createMonotonicClock(): Clock {
  return timersOn(() => performance.now());
}

/** Node's timers behind the Clock interface, reading the time from `now`. */
function timersOn(now: () => number): Clock {
  const clock: Clock = {
    now,
    setTimer(delayMs, fn) {
      const timer = setTimeout(fn, Math.max(0, delayMs));
      return () => clearTimeout(timer);
    },
    sleep: (delayMs, signal) => sleepOn(clock, delayMs, signal),
  };
  return clock;
}

/** The process-wide wall clock. */
export const realClock: Clock = createRealClock();

/**
 * A clock that moves only when told to. Timers fire in time order (ties in the order they were
 * set), each with `now()` equal to its due time, so a discrete-event simulation runs to its end
 * with `runTimers()`.
 */
export interface VirtualClock extends Clock {
  /** Moves time forward by `deltaMs`, firing every timer that falls due, synchronously. */
  advance(deltaMs: number): void;
  /** Moves time to `timeMs` (never backwards), firing due timers synchronously. */
  advanceTo(timeMs: number): void;
  /**
   * Like `advance`, but lets promise continuations run after each timer fires, so code that
   * `await`s `sleep` proceeds as it would on the real clock. For tests of async code.
   */
  advanceAsync(deltaMs: number): Promise<void>;
  /**
   * Fires pending timers in time order, each at its due time, and those they set in turn, until
   * none is due at or before `untilMs` (default: until none is left). Time stays at the last
   * timer fired, not at `untilMs`.
   */
  runTimers(untilMs?: number): void;
  /** Due time of the earliest pending timer, or undefined when none is pending. */
  nextTimerAt(): number | undefined;
  /** Number of pending timers. */
  pendingTimers(): number;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  /** Where the timer sits in the heap; -1 once it fired or was cancelled. */
  index: number;
}

export function createVirtualClock(startMs = 0): VirtualClock {
  let now = startMs;
  let seq = 0;
  const heap: Timer[] = [];

  // A binary min-heap ordered by (at, seq), a strict total order, so timers pop in one order
  // whatever the heap's shape. Sifting moves a hole instead of swapping pairs. A cancelled timer
  // leaves the heap at once: a simulation cancels most of its timers (request deadlines), and
  // left in place until due they would make every sift walk a heap many times larger.
  const before = (a: Timer, b: Timer) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  const place = (timer: Timer, i: number) => {
    heap[i] = timer;
    timer.index = i;
  };
  /** Moves `timer` up from hole `i` to where it belongs. */
  const siftUp = (timer: Timer, i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent]!;
      if (!before(timer, above)) break;
      place(above, i);
      i = parent;
    }
    place(timer, i);
  };
  /** Moves `timer` down from hole `i` to where it belongs. */
  const siftDown = (timer: Timer, i: number) => {
    const size = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      let smaller = heap[left]!;
      if (right < size) {
        const other = heap[right]!;
        if (before(other, smaller)) {
          child = right;
          smaller = other;
        }
      }
      if (!before(smaller, timer)) break;
      place(smaller, i);
      i = child;
    }
    place(timer, i);
  };
  /** Takes `timer` out of the heap, wherever it is. */
  const remove = (timer: Timer) => {
    const i = timer.index;
    timer.index = -1;
    const last = heap.pop()!;
    if (last === timer) return;
    // The last timer fills the hole, then moves whichever way restores the order.
    if (i > 0 && before(last, heap[(i - 1) >> 1]!)) siftUp(last, i);
    else siftDown(last, i);
  };
  const fireNextDue = (limit: number): boolean => {
    const top = heap[0];
    if (!top || top.at > limit) return false;
    remove(top); // fired: a later cancel() is a no-op
    now = Math.max(now, top.at);
    top.fn();
    return true;
  };

  const clock: VirtualClock = {
    now: () => now,
    setTimer(delayMs, fn) {
      const timer: Timer = { at: now + Math.max(0, delayMs), seq: seq++, fn, index: heap.length };
      heap.push(timer);
      siftUp(timer, timer.index);
      return () => {
        if (timer.index >= 0) remove(timer);
      };
    },
    sleep: (delayMs, signal) => sleepOn(clock, delayMs, signal),
    advance(deltaMs) {
      clock.advanceTo(now + deltaMs);
    },
    advanceTo(timeMs) {
      while (fireNextDue(timeMs));
      now = Math.max(now, timeMs);
    },
    async advanceAsync(deltaMs) {
      const target = now + deltaMs;
      await flushPromises();
      while (fireNextDue(target)) await flushPromises();
      now = Math.max(now, target);
      await flushPromises();
    },
    runTimers(untilMs = Number.POSITIVE_INFINITY) {
      for (let next = heap[0]?.at; next !== undefined && next <= untilMs; next = heap[0]?.at) clock.advanceTo(next);
    },
    nextTimerAt: () => heap[0]?.at,
    pendingTimers: () => heap.length,
  };
  return clock;
}

function sleepOn(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimer(delayMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Lets every queued promise continuation run (one macrotask turn). */
function flushPromises(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
