import { type Aggregator, Counter, Gauge, Histogram, type LabelValues, type Registry } from 'prom-client';

/**
 * One row of a metric table: a Prometheus metric as its exporter declares it. `labels` are the
 * label names, in the order they are exposed; they type the record calls (`inc({ worker })`).
 */
interface MetricRowBase<L extends string> {
  /** The exposed name; never renamed (dashboards, alerts and the planner read it). */
  readonly name: string;
  /** The `# HELP` text. */
  readonly help: string;
  readonly labels?: readonly L[];
  /**
   * How the cluster primary merges this metric over its serving processes (prom-client's
   * AggregatorRegistry); default `sum`.
   */
  readonly aggregator?: Aggregator;
}

/**
 * What a scraped row's `read` returns at each scrape: the value of a metric without labels, or
 * every labelled series there is now (series not listed are dropped), or undefined to keep the
 * metric as it stands (its source has nothing yet).
 */
export type ScrapedValue<L extends string> = number | readonly LabelledValue<L>[] | undefined;

export interface LabelledValue<L extends string> {
  readonly labels: LabelValues<L>;
  readonly value: number;
}

export interface CounterRow<L extends string = string> extends MetricRowBase<L> {
  readonly kind: 'counter';
  /** A running total kept elsewhere (an engine's), read at each scrape and exposed as it is. */
  readonly read?: () => ScrapedValue<L>;
}

export interface GaugeRow<L extends string = string> extends MetricRowBase<L> {
  readonly kind: 'gauge';
  /** A level kept elsewhere, read at each scrape. */
  readonly read?: () => ScrapedValue<L>;
}

export interface HistogramRow<L extends string = string> extends MetricRowBase<L> {
  readonly kind: 'histogram';
  /** Upper bounds, ascending, in the metric's unit (`+Inf` is added by prom-client). */
  readonly buckets: readonly number[];
}

// biome-ignore lint/suspicious/noExplicitAny: any label set; each row's own labels type its metric.
export type MetricRow = CounterRow<any> | GaugeRow<any> | HistogramRow<any>;

/** The prom-client metric a row declares, typed by its labels. */
export type DeclaredMetric<R> =
  R extends CounterRow<infer L>
    ? Counter<L>
    : R extends GaugeRow<infer L>
      ? Gauge<L>
      : R extends HistogramRow<infer L>
        ? Histogram<L>
        : never;

/**
 * The one way Tandem's exporters declare their prom-client metrics: every row of `table` becomes
 * a metric registered in `registers` (none: registered nowhere), in the table's order (which is
 * the exposition's order), and comes back under the row's key, e.g.
 * `declareMetrics([registry], { requests: { kind: 'counter', name: 'x_total', help: '...', labels: ['mode'] } })`
 * gives `{ requests: Counter<'mode'> }`.
 */
export function declareMetrics<const T extends Readonly<Record<string, MetricRow>>>(
  registers: readonly Registry[],
  table: T,
): { readonly [K in keyof T]: DeclaredMetric<T[K]> } {
  const declared: Record<string, unknown> = {};
  for (const [key, row] of Object.entries(table)) declared[key] = declareOne(row, [...registers]);
  return declared as { readonly [K in keyof T]: DeclaredMetric<T[K]> };
}

function declareOne(row: MetricRow, registers: Registry[]): Counter | Gauge | Histogram {
  const common = {
    name: row.name,
    help: row.help,
    labelNames: [...(row.labels ?? [])],
    registers,
    ...(row.aggregator === undefined ? {} : { aggregator: row.aggregator }),
  };
  switch (row.kind) {
    case 'counter':
      return new Counter({
        ...common,
        ...readAtScrape(row.read, (counter, labels, value) => counter.inc(labels, value)),
      });
    case 'gauge':
      return new Gauge({ ...common, ...readAtScrape(row.read, (gauge, labels, value) => gauge.set(labels, value)) });
    case 'histogram':
      return new Histogram({ ...common, buckets: [...row.buckets] });
  }
}

/**
 * prom-client's `collect` (it runs before each scrape, the metric as `this`) for a row that
 * reads its value: the metric is cleared, then `put` gives it each value read. A read that
 * returns undefined leaves the metric as it was.
 */
function readAtScrape<M extends Counter | Gauge>(
  read: (() => ScrapedValue<string>) | undefined,
  put: (metric: M, labels: LabelValues<string>, value: number) => void,
): { collect?: (this: M) => void } {
  if (read === undefined) return {};
  return {
    collect(this: M) {
      const value = read();
      if (value === undefined) return;
      this.reset();
      if (typeof value === 'number') put(this, {}, value);
      else for (const series of value) put(this, series.labels, series.value);
    },
  };
}
