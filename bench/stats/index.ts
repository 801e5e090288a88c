export {
  flattenSummary,
  formatSummary,
  formatSweepTable,
  ms,
  percent,
  SUMMARY_COLUMNS,
  sweepToCsv,
  type SummaryColumn,
  type SweepRow,
} from './format.ts';
export { hitRateUpperBound, reusableTokens } from './hit-rate-bound.ts';
export { createLogHistogram, type LogHistogram } from './log-histogram.ts';
export { percentilesOf, quantileOfSorted, type Percentiles } from './percentiles.ts';
export {
  createRunRecorder,
  loadImbalance,
  type FinishOptions,
  type RequestRecord,
  type RunRecorder,
  type RunRecorderOptions,
  type RunTotals,
  type SloTargets,
} from './recorder.ts';
export { runSummarySchema, type RunSummary } from './run-summary.ts';
