/**
 * A load predictor: fed one value per planning interval (a request rate, a mean ISL, ...),
 * it predicts the value over the next interval. One instance per series. Pure apart from its
 * own state: times come in as arguments (clock milliseconds), nothing reads a clock.
 */
export interface Predictor {
  /** Records `value`, observed over the interval that ended at `atMs`. */
  observe(value: number, atMs: number): void;
  /** The value expected over the interval starting at `atMs`; undefined before any observation. */
  predict(atMs: number): number | undefined;
}

export interface PredictorOptions {
  /** moving-average: how many recent observations are averaged, >= 1. */
  readonly window: number;
  /** holt: level smoothing, (0, 1]. */
  readonly alpha: number;
  /** holt: trend smoothing, [0, 1]. */
  readonly beta: number;
  /** daily: the period of the pattern and the width of a time-of-day bin, seconds. */
  readonly periodS: number;
  readonly binS: number;
  /** daily: how much a new day moves a bin's remembered value, (0, 1]. */
  readonly seasonAlpha: number;
}

export type PredictorFactory = (options: PredictorOptions) => Predictor;

export const DEFAULT_PREDICTOR_OPTIONS: PredictorOptions = {
  window: 6,
  alpha: 0.5,
  beta: 0.2,
  periodS: 86_400,
  binS: 900,
  seasonAlpha: 0.3,
};
