import type { Predictor, PredictorFactory } from './predictor.ts';

/**
 * A daily pattern: the period (a day by default) is cut into time-of-day bins; each bin
 * remembers the value usually seen then (an exponential average across days). The forecast for
 * the next interval is that bin's usual value scaled by how today compares with the usual
 * (a smoothed ratio of recent observations to their bins' usual values), so a day that runs 20%
 * busier than usual is predicted 20% busier along the same shape. Bins never seen fall back to a
 * smoothed recent level. Time of day is clock milliseconds modulo the period.
 */
export const createDailyPredictor: PredictorFactory = (options): Predictor => {
  const bins = Math.max(1, Math.round(options.periodS / options.binS));
  const usual: (number | undefined)[] = new Array<number | undefined>(bins).fill(undefined);
  const binOf = (atMs: number) => {
    const periodMs = options.periodS * 1000;
    const phase = ((atMs % periodMs) + periodMs) % periodMs;
    return Math.min(bins - 1, Math.floor(phase / (options.binS * 1000)));
  };
  let level: number | undefined;
  let ratio = 1;
  return {
    observe(value, atMs) {
      // The interval that ended at atMs belongs to the bin it mostly covered: the one just before atMs.
      const bin = binOf(atMs - 1);
      const seen = usual[bin];
      if (seen !== undefined && seen > 0) ratio = options.alpha * (value / seen) + (1 - options.alpha) * ratio;
      usual[bin] = seen === undefined ? value : options.seasonAlpha * value + (1 - options.seasonAlpha) * seen;
      level = level === undefined ? value : options.alpha * value + (1 - options.alpha) * level;
    },
    predict(atMs) {
      if (level === undefined) return undefined;
      const seen = usual[binOf(atMs)];
      return seen === undefined ? level : Math.max(0, seen * ratio);
    },
  };
};
