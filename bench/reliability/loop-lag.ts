import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * How long this process's event loop was held, measured with a 1 ms interval: the largest gap
 * between two ticks is the worst inter-token gap a stream served by this loop would have seen.
 *
 * On a busy machine a gap is also time the OS gave to other processes, so each gap is also read
 * as the main thread's own run time inside it (Linux /proc/thread-self/schedstat: nanoseconds
 * on a CPU), which is what this process's own work held the loop for, whatever the load
 * average, and its time waiting for a CPU while runnable (schedstat's run-queue delay: the
 * machine's load, or this process's other threads). `runMs` / `waitMs` fields are null where
 * schedstat is not available. On a virtual machine, time the host takes the vCPU away also
 * counts as run time (seen here: 105 ms of "run" in a gap where perf's cpu-clock sampled the
 * thread once), so one outlier among the longest runs is not necessarily this process's work.
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
  /** The longest gaps (at most `worstGaps` of the probe's options), longest first. */
  readonly worst: readonly LoopGap[];
  /** The main thread's longest run times within a gap, ms, longest first (as many as `worst`; empty without schedstat). */
  readonly longestRunsMs: readonly number[];
}

/** One gap between ticks. */
export interface LoopGap {
  /** When the gap ended, ms on the `performance.now()` clock. */
  readonly endMs: number;
  readonly gapMs: number;
  /** The main thread's run time within the gap, ms. */
  readonly runMs: number | null;
  /** Time the main thread was runnable but waiting for a CPU within the gap, ms. */
  readonly waitMs: number | null;
}

const SCHEDSTAT = '/proc/thread-self/schedstat';

/** [run ns, run-queue wait ns] of the calling thread, or null. */
function schedstat(): [number, number] | null {
  try {
    const fields = readFileSync(SCHEDSTAT, 'utf8').split(' ');
    return [Number(fields[0]), Number(fields[1])];
  } catch {
    return null;
  }
}

/** Starts ticking; `stop()` returns the figures since the start. */
export function startLoopLagProbe(options: { worstGaps?: number } = {}): { stop(): LoopLag } {
  const keep = options.worstGaps ?? 5;
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let maxGap = 0;
  let maxGapRun: number | null = null;
  let maxRun: number | null = null;
  let ticks = 0;
  const worst: LoopGap[] = [];
  const longestRuns: number[] = [];
  let last = performance.now();
  let lastStat = schedstat();
  const timer = setInterval(() => {
    const t = performance.now();
    const stat = lastStat === null ? null : schedstat();
    const gap = t - last;
    const ran = stat === null || lastStat === null ? null : (stat[0] - lastStat[0]) / 1e6;
    const waited = stat === null || lastStat === null ? null : (stat[1] - lastStat[1]) / 1e6;
    if (gap > maxGap) {
      maxGap = gap;
      maxGapRun = ran;
    }
    if (ran !== null && (maxRun === null || ran > maxRun)) maxRun = ran;
    if (ran !== null && keep > 0 && (longestRuns.length < keep || ran > longestRuns[longestRuns.length - 1]!)) {
      if (longestRuns.length === keep) longestRuns.pop();
      longestRuns.push(ran);
      longestRuns.sort((a, b) => b - a);
    }
    if (keep > 0 && (worst.length < keep || gap > worst[worst.length - 1]!.gapMs)) {
      if (worst.length === keep) worst.pop();
      worst.push({ endMs: t, gapMs: gap, runMs: ran, waitMs: waited });
      worst.sort((a, b) => b.gapMs - a.gapMs);
    }
    last = t;
    lastStat = stat;
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
        worst,
        longestRunsMs: longestRuns,
      };
    },
  };
}
