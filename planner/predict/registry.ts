import { getByName } from '../../common/registry.ts';
import { createConstantPredictor } from './constant.ts';
import { createDailyPredictor } from './daily.ts';
import { createHoltPredictor } from './holt.ts';
import { createMovingAveragePredictor } from './moving-average.ts';
import {
  DEFAULT_PREDICTOR_OPTIONS,
  type Predictor,
  type PredictorFactory,
  type PredictorOptions,
} from './predictor.ts';

/** Every predictor, by the kebab-case name configs use (`planner.predictor.kind`). */
export const PREDICTORS = {
  constant: createConstantPredictor,
  'moving-average': createMovingAveragePredictor,
  holt: createHoltPredictor,
  daily: createDailyPredictor,
} as const satisfies Record<string, PredictorFactory>;

export type PredictorName = keyof typeof PREDICTORS;

/** A new predictor by name; an unknown name fails listing the known ones. */
export function createPredictor(kind: string, options: Partial<PredictorOptions> = {}): Predictor {
  const factory = getByName<PredictorFactory>(PREDICTORS, kind, 'predictor', 'planner.predictor.kind');
  return factory({ ...DEFAULT_PREDICTOR_OPTIONS, ...options });
}
