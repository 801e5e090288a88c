import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * How long this process's event loop was held, measured with a 1 ms interval: the largest gap
 * between two ticks is the worst inter-token gap a stream served by this loop would have seen.
 *
 * On a busy machine a gap is also time the OS gave to other processes, so each gap is also read
 * as the main thread's own run time inside it (Linux /proc/thread-self/schedstat: nanoseconds
 * on a CPU), which is what this process's own work held the loop for, whatever the load
 * average. `runMs` fields are null where schedstat is not available.
 */
export interface LoopLag {
  /** Largest wall-clock gap between ticks, ms. */
  readonly maxGapMs: number;
  /** The main thread's run time within that gap, ms. */
  readonly maxGapRunMs: number | null;
  /** Largest main-thread run time within any one gap, ms: the longest the loop was held by this process's work. */
  readonly maxRunMs: number | null;
  /** perf_hooks' event-loop delay, ms. */
  readonly delayMaxMs: number;
  readonly delayP99Ms: number;
  readonly ticks: number;
}

const SCHEDSTAT = '/proc/thread-self/schedstat';

function runNs(): number | null {
  try {
    return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
}

/** Starts ticking; `stop()` returns the figures since the start. */
export function startLoopLagProbe(): { stop(): LoopLag } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let maxGap = 0;
  let maxGapRun: number | null = null;
  let maxRun: number | null = null;
  let ticks = 0;
  let last = performance.now();
  let lastRun = runNs();
  const timer = setInterval(() => {
    const t = performance.now();
    const run = lastRun === null ? null : runNs();
    const gap = t - last;
    const ran = run === null || lastRun === null ? null : (run - lastRun) / 1e6;
    if (gap > maxGap) {
      maxGap = gap;
      maxGapRun = ran;
    }
    if (ran !== null && (maxRun === null || ran > maxRun)) maxRun = ran;
    last = t;
    lastRun = run;
    ticks++;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      histogram.disable();
      return {
        maxGapMs: maxGap,
        maxGapRunMs: maxGapRun,
        maxRunMs: maxRun,
        delayMaxMs: histogram.max / 1e6,
        delayP99Ms: histogram.percentile(99) / 1e6,
        ticks,
      };
    },
  };
}
