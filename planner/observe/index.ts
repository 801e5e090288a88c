export {
  diffDistribution,
  histogramBuckets,
  histogramQuantile,
  histogramShareBelow,
  type HistogramBucket,
} from './histogram.ts';
export { loadObservationsFile, observationJson, parseObservations } from './observation-file.ts';
export { parsePrometheusText, type PromSample as Sample } from '../../common/prometheus-text.ts';
export { createPrometheusSource, prometheusQueries, type PrometheusSourceOptions } from './prometheus-source.ts';
export {
  observationFromScrapes,
  poolGauges,
  scrapedHistogram,
  scrapedSum,
  type PoolAttribution,
  type Scrape,
} from './scrape-diff.ts';
export { createScrapeSource, fetchText, type ScrapeSourceOptions } from './scrape-source.ts';
export { createPushSource, type ObservationSource, type PushSource } from './source.ts';
