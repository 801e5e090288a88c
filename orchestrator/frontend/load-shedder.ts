import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Clock } from '../../common/clock.ts';

/**
 * Sheds load when the orchestrator itself is the bottleneck. Workers being full is the
 * dispatcher's business (its queue); this watches the process's own event loop: when its delay
 * (the mean over each `windowMs` window: sustained lag, not one GC pause or one moment the OS
 * ran something else) passes `thresholdMs`, new generation requests are refused
 * at the door, before their body is read or tokenized, until a window's delay falls below half
 * the threshold (the gap keeps it from flapping on every window). A refusal costs microseconds,
 * so the requests already admitted keep their tokens flowing.
 */
export interface LoadShedder {
  /** Whether new generation requests should be refused now. */
  shedding(): boolean;
  /** The last window's event-loop delay, ms. */
  readonly lagMs: number;
  close(): void;
}

export interface LoadShedderOptions {
  /** Delay past which requests are shed, ms; 0 turns shedding off (the delay is still sampled). */
  readonly thresholdMs: number;
  /** Sampling window, ms. Default 500. */
  readonly windowMs?: number;
  readonly clock: Clock;
  /** Reads the event-loop delay since the last call, ms, and starts a new window. Default perf_hooks. */
  readonly sampleLagMs?: () => number;
  /** Called with each window's delay, seconds (the lag gauge). */
  readonly onSample?: (seconds: number) => void;
}

export function createLoadShedder(options: LoadShedderOptions): LoadShedder {
  const windowMs = options.windowMs ?? 500;
  const sample = options.sampleLagMs ?? perfHooksLag();
  let lagMs = 0;
  let shedding = false;
  let cancel: () => void = () => {};
  const tick = () => {
    lagMs = sample();
    options.onSample?.(lagMs / 1000);
    if (options.thresholdMs > 0) {
      if (lagMs > options.thresholdMs) shedding = true;
      else if (lagMs < options.thresholdMs / 2) shedding = false;
    }
    cancel = options.clock.setTimer(windowMs, tick);
  };
  cancel = options.clock.setTimer(windowMs, tick);
  return {
    shedding: () => shedding,
    get lagMs() {
      return lagMs;
    },
    close: () => cancel(),
  };
}

/** perf_hooks' event-loop delay histogram, 10 ms resolution: mean since the last read, ms. */
function perfHooksLag(): () => number {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return () => {
    // Each sample includes the resolution itself.
    const mean = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - 10) : 0;
    histogram.reset();
    return mean;
  };
}
