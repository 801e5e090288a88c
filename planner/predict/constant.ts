import type { Predictor, PredictorFactory } from './predictor.ts';

/** The next interval looks like the last one (Dynamo's default). */
export const createConstantPredictor: PredictorFactory = (): Predictor => {
  let last: number | undefined;
  return {
    observe(value) {
      last = value;
    },
    predict: () => last,
  };
};
