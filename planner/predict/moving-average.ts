import type { Predictor, PredictorFactory } from './predictor.ts';

/** The mean of the last `window` observations: smooths noise, lags a trend by about window/2 intervals. */
export const createMovingAveragePredictor: PredictorFactory = (options): Predictor => {
  const window = Math.max(1, Math.floor(options.window));
  const values: number[] = [];
  let sum = 0;
  return {
    observe(value) {
      values.push(value);
      sum += value;
      if (values.length > window) sum -= values.shift()!;
    },
    predict: () => (values.length === 0 ? undefined : sum / values.length),
  };
};
