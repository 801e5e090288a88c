export { fitToBudget, type BudgetedPool, type BudgetFit } from './budget.ts';
export { decodeOperatingPoint, type DecodeOperatingPoint } from './decode.ts';
export {
  createMeasuredPerf,
  loadMeasuredProfile,
  parseMeasuredProfile,
  type MeasuredProfile,
} from './measured-profile.ts';
export { createRooflinePerf, type PerfModel } from './perf-model.ts';
export {
  DEFAULT_TTFT_QUANTILE,
  erlangC,
  prefillOperatingPoint,
  prefillPoolSize,
  prefillService,
  waitQuantileSeconds,
  type PrefillOperatingPoint,
  type PrefillPoolSize,
  type PrefillService,
} from './prefill.ts';
export { promptMixMoments, promptMixQuantile, promptsAbove, type PromptBucket, type PromptMix } from './prompt-mix.ts';
export { sizePools, type PoolSizing, type PoolSpec, type Sizing, type SizingInput } from './size-pools.ts';
export { splitAtThreshold, type LoadSplit } from './split.ts';
export { MAX_THRESHOLD_TOKENS, recommendThreshold, type ThresholdRecommendation } from './threshold.ts';
