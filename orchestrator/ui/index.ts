/** The status page's data and files: the feed behind GET /ui/events, and the static assets. */
export { loadUiAssets, type UiAsset } from './assets.ts';
export {
  createMetricWindow,
  quantile,
  trafficBetween,
  type CumulativeSample,
  type Histogram,
  type MetricWindow,
} from './metric-window.ts';
export { readCumulativeSample } from './read-metrics.ts';
export type {
  HistoryPoint,
  LatencyPercentiles,
  PlannerDecisionView,
  PlannerView,
  PoolSummary,
  TrafficFigures,
  UiEvent,
  UiSnapshot,
  WorkerRow,
} from './types.ts';
export { createUiFeed, type UiFeed, type UiFeedOptions } from './ui-feed.ts';
export { poolSummaries, statusSamples, workerRows } from './worker-rows.ts';
