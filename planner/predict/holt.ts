import type { Predictor, PredictorFactory } from './predictor.ts';

/**
 * Holt's linear (double exponential) smoothing: a level and a trend per interval, so a ramp is
 * followed without the lag of an average. level' = a x + (1 - a)(level + trend);
 * trend' = b (level' - level) + (1 - b) trend; the forecast one interval ahead is level + trend.
 * Never predicts below zero (loads are non-negative).
 */
export const createHoltPredictor: PredictorFactory = (options): Predictor => {
  const { alpha, beta } = options;
  let level: number | undefined;
  let trend = 0;
  return {
    observe(value) {
      if (level === undefined) {
        level = value;
        return;
      }
      const next = alpha * value + (1 - alpha) * (level + trend);
      trend = beta * (next - level) + (1 - beta) * trend;
      level = next;
    },
    predict: () => (level === undefined ? undefined : Math.max(0, level + trend)),
  };
};
