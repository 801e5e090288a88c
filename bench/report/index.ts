export { buildReport, type BuildReportOptions, type BuildReportResult } from './build-report.ts';
export { bySeries, chooseXAxis, figuresFor, seriesName, type Figure, type XAxis } from './figures.ts';
export { experimentPage, indexPage, type Experiment } from './markdown.ts';
export {
  currentCommand,
  parseResultFile,
  readResultFile,
  resultFileSchema,
  resultRunSchema,
  shellQuote,
  writeResultFile,
  type ReplicaPoint,
  type ResultFile,
  type ResultRun,
} from './result-file.ts';
export { renderLineChart, type ChartPoint, type ChartSeries, type LineChartSpec } from './svg/line-chart.ts';
export { formatTick, linearScale, logScale, niceTicks, wantsLog, type Scale } from './svg/scale.ts';
export { checkXml, type XmlCheck } from './svg/xml-check.ts';
