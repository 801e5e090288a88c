export { createConstantPredictor } from './constant.ts';
export { createDailyPredictor } from './daily.ts';
export { createHoltPredictor } from './holt.ts';
export { createMovingAveragePredictor } from './moving-average.ts';
export {
  DEFAULT_PREDICTOR_OPTIONS,
  type Predictor,
  type PredictorFactory,
  type PredictorOptions,
} from './predictor.ts';
export { createPredictor, PREDICTORS, type PredictorName } from './registry.ts';
