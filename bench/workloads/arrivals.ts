import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import type { Rng } from '../../common/rng.ts';

/** Successive arrival times, milliseconds from the run's start, non-decreasing. */
export interface Arrivals {
  next(): number;
}

/** A Poisson process at `ratePerS` events a second (exponential gaps), starting at 0. */
export function poissonArrivals(rng: Rng, ratePerS: number): Arrivals {
  let at = 0;
  const perMs = ratePerS / 1000;
  return {
    next() {
      at += rng.exponential(perMs);
      return at;
    },
  };
}

/**
 * A Poisson process whose rate changes over time: `rateAt(ms)` events/s, never above
 * `maxRatePerS`. Lewis-Shedler thinning: candidates at the maximum rate, each kept with
 * probability rateAt(t) / max, which is exact for any rate function within the bound.
 */
export function varyingPoissonArrivals(rng: Rng, rateAt: (atMs: number) => number, maxRatePerS: number): Arrivals {
  const candidates = poissonArrivals(rng, maxRatePerS);
  return {
    next() {
      for (;;) {
        const at = candidates.next();
        if (rng.next() * maxRatePerS < rateAt(at)) return at;
      }
    },
  };
}

/** An exponential pause with mean `meanS` seconds, in milliseconds; 0 when the mean is 0. */
export function exponentialDelayMs(rng: Rng, meanS: number): number {
  return meanS > 0 ? rng.exponential(1 / (meanS * 1000)) : 0;
}

/** One stage of a rate ladder: Poisson arrivals at `ratePerS` for `durationS` seconds. */
export interface RateStage {
  readonly ratePerS: number;
  readonly durationS: number;
}

/**
 * A rate ladder as written in a parameter: `rate x seconds` stages separated by commas, e.g.
 * `15x50,3x20,10x20` (inference-perf's `stages`, as llm-d's benchmark runs them).
 */
export function parseRateStages(text: string): Result<RateStage[]> {
  const stages: RateStage[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d+(?:\.\d+)?)\s*x\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    const ratePerS = Number(match?.[1]);
    const durationS = Number(match?.[2]);
    if (!match || !(ratePerS > 0) || !(durationS > 0))
      return fail(
        new TandemError('invalid_request', `stage "${part.trim()}": expected rate x seconds, both > 0 (e.g. 15x50)`, {
          param: 'stages',
        }),
      );
    stages.push({ ratePerS, durationS });
  }
  return ok(stages);
}

/** The stage an arrival at `atMs` falls in (the last one past the ladder's end). */
export function stageAt(stages: readonly RateStage[], atMs: number): number {
  let endMs = 0;
  for (const [i, stage] of stages.entries()) {
    endMs += stage.durationS * 1000;
    if (atMs < endMs) return i;
  }
  return stages.length - 1;
}

/** Poisson arrivals whose rate steps through `stages` (then stays at the last stage's rate). */
export function stagedPoissonArrivals(rng: Rng, stages: readonly RateStage[]): Arrivals {
  const max = Math.max(...stages.map((s) => s.ratePerS));
  return varyingPoissonArrivals(rng, (atMs) => stages[stageAt(stages, atMs)]!.ratePerS, max);
}
