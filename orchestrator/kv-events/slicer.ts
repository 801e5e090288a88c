/**
 * Cooperative time slicing for work that arrives in bursts (KV-event batches): the work runs in
 * slices of about `sliceMs` of CPU, and between slices the event loop runs everything else
 * (sockets, timers, token streams) before the next slice starts.
 *
 * Contract: a worker calls `pace()` before each unit of work (one batch). Inside the current
 * slice it returns undefined (no await, no allocation: the fast path for a trickle of events).
 * Once the slice has run `sliceMs`, it returns a promise that resolves at a later turn of the
 * event loop (a setImmediate, which runs after pending I/O), when a new slice starts. Waiters
 * are resumed one per turn, in the order they asked, so every subscriber of a fleet shares one
 * budget: a burst on eight workers does not block the loop for eight slices in a row. A slice
 * overruns by at most one unit of work (one batch is never split).
 */
export interface Slicer {
  pace(): Promise<void> | undefined;
  /** Turns given up so far (for stats and tests). */
  readonly yields: number;
}

export interface SlicerOptions {
  /** Work per turn of the event loop, milliseconds. */
  readonly sliceMs: number;
  /** Monotonic milliseconds. Default performance.now. */
  readonly now?: () => number;
  /** Schedules the next turn. Default setImmediate. */
  readonly defer?: (run: () => void) => void;
}

export function createSlicer(options: SlicerOptions): Slicer {
  const now = options.now ?? (() => performance.now());
  const defer = options.defer ?? ((run: () => void) => void setImmediate(run));
  const waiters: (() => void)[] = [];
  /** When the running slice began; undefined once the event loop has turned since. */
  let sliceStart: number | undefined;
  let resetPending = false;
  let scheduled = false;
  let yields = 0;

  const startSlice = (t: number) => {
    sliceStart = t;
    if (resetPending) return;
    resetPending = true;
    defer(() => {
      resetPending = false;
      sliceStart = undefined;
    });
  };
  const turn = () => {
    scheduled = false;
    const next = waiters.shift();
    startSlice(now());
    if (waiters.length > 0) schedule();
    next?.();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    defer(turn);
  };

  return {
    get yields() {
      return yields;
    },
    pace() {
      const t = now();
      if (sliceStart === undefined) startSlice(t);
      if (waiters.length === 0 && !scheduled && t - sliceStart! < options.sliceMs) return undefined;
      yields++;
      return new Promise<void>((resolve) => {
        waiters.push(resolve);
        schedule();
      });
    },
  };
}

/**
 * The process's one slicer for KV-event ingest, 10 ms slices: every subscriber shares it, so a
 * burst across the fleet blocks the loop for one slice (plus one batch) at a time.
 */
export const kvEventSlicer: Slicer = createSlicer({ sliceMs: 10 });
