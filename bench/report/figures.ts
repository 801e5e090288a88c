import type { ResultRun } from './result-file.ts';
import type { ChartSeries, LineChartSpec } from './svg/line-chart.ts';

/** How the runs of an experiment are placed along x. */
export interface XAxis {
  readonly label: string;
  readonly of: (run: ResultRun) => number;
  /** Concurrency sweeps usually double: log when they span 20x or more. */
  readonly scale: 'linear' | 'auto';
}

/** Offered QPS when every run has one, else concurrency when every run has one, else the achieved rate. */
export function chooseXAxis(runs: readonly ResultRun[]): XAxis {
  if (runs.every((run) => run.qps !== null))
    return { label: 'offered load (requests/s)', of: (run) => run.qps!, scale: 'linear' };
  if (runs.every((run) => run.qps === null && run.concurrency !== null))
    return { label: 'concurrency (requests in flight)', of: (run) => run.concurrency!, scale: 'auto' };
  return { label: 'completed requests/s', of: (run) => run.summary.request_rate, scale: 'linear' };
}

/** The line a run belongs to: its policy and label, e.g. `kv (precise)`. */
export function seriesName(run: ResultRun): string {
  if (run.policy && run.label) return `${run.policy} (${run.label})`;
  return run.policy ?? run.label ?? (run.tool === 'live' ? 'live' : 'simulated');
}

/** Runs grouped by series name, in first-seen order. */
export function bySeries(runs: readonly ResultRun[]): Map<string, ResultRun[]> {
  const groups = new Map<string, ResultRun[]>();
  for (const run of runs) groups.set(seriesName(run), [...(groups.get(seriesName(run)) ?? []), run]);
  return groups;
}

export interface Figure {
  /** File-name suffix: `ttft-p90`, `throughput`, `hit-rate`, `replicas`. */
  readonly key: string;
  /** Alt text and caption. */
  readonly caption: string;
  readonly chart: LineChartSpec;
}

/** Every figure the runs have data for, in reading order. */
export function figuresFor(title: string, runs: readonly ResultRun[]): Figure[] {
  const x = chooseXAxis(runs);
  const groups = bySeries(runs);
  const perSeries = (value: (run: ResultRun) => number | null): ChartSeries[] =>
    [...groups].map(([name, members]) => ({ name, points: members.map((run) => ({ x: x.of(run), y: value(run) })) }));
  const hasData = (series: readonly ChartSeries[]) => series.some((s) => s.points.some((p) => p.y !== null));
  const figures: Figure[] = [];

  const ttft = perSeries((run) => (run.summary.ttft_ms ? run.summary.ttft_ms.p90 / 1000 : null));
  if (hasData(ttft))
    figures.push({
      key: 'ttft-p90',
      caption: `TTFT p90 against ${x.label}, per policy`,
      chart: { title: `${title}: TTFT p90`, xLabel: x.label, xScale: x.scale, yLabel: 'TTFT p90 (s)', series: ttft },
    });

  const throughput = perSeries((run) => run.summary.output_tokens_per_s);
  if (hasData(throughput))
    figures.push({
      key: 'throughput',
      caption: `Output tokens/s against ${x.label}, per policy`,
      chart: {
        title: `${title}: throughput`,
        xLabel: x.label,
        xScale: x.scale,
        yLabel: 'output tokens/s',
        series: throughput,
      },
    });

  const hits = perSeries((run) => run.summary.prefix_cache.hit_rate);
  if (hasData(hits)) {
    const bounds = new Map<number, number[]>();
    for (const run of runs)
      if (run.summary.prefix_cache.upper_bound !== null)
        bounds.set(x.of(run), [...(bounds.get(x.of(run)) ?? []), run.summary.prefix_cache.upper_bound]);
    const bound: ChartSeries = {
      name: 'upper bound (each prefix once)',
      reference: true,
      points: [...bounds].map(([at, values]) => ({ x: at, y: values.reduce((a, b) => a + b, 0) / values.length })),
    };
    const series = bound.points.length > 0 ? [...hits, bound] : hits;
    figures.push({
      key: 'hit-rate',
      caption: `Prefix-cache hit rate against ${x.label}, per policy, with the workload's upper bound`,
      chart: {
        title: `${title}: prefix-cache hit rate`,
        xLabel: x.label,
        xScale: x.scale,
        yLabel: 'hit rate',
        series,
        yDomain: [0, 1],
        yTickFormat: (v) => `${Math.round(v * 100)}%`,
      },
    });
  }

  const replicaRuns = runs.filter((run) => (run.series?.replicas?.length ?? 0) > 0);
  if (replicaRuns.length > 0) {
    const series: ChartSeries[] = replicaRuns.flatMap((run) => {
      const points = run.series!.replicas!;
      const name =
        replicaRuns.length > 1 ? ` (${seriesName(run)}${run.qps === null ? '' : ` @ ${run.qps} req/s`})` : '';
      return [
        {
          name: `prefill${name}`,
          shape: 'step' as const,
          stepUntil: run.summary.duration_s,
          points: points.map((p) => ({ x: p.t_s, y: p.prefill })),
        },
        {
          name: `decode${name}`,
          shape: 'step' as const,
          dashed: true,
          stepUntil: run.summary.duration_s,
          points: points.map((p) => ({ x: p.t_s, y: p.decode })),
        },
      ];
    });
    figures.push({
      key: 'replicas',
      caption: 'Prefill and decode replicas over the run',
      chart: {
        title: `${title}: P:D replicas over time`,
        xLabel: 'time since the run started (s)',
        yLabel: 'replicas',
        series,
        yScale: 'linear',
        xScale: 'linear',
      },
    });
  }
  return figures;
}
