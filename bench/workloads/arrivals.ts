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
