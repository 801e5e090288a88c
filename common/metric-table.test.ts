import { register as globalRegistry, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { declareMetrics } from './metric-table.ts';

describe('declareMetrics', () => {
  it('registers every row under its name, help, labels and buckets, in the order of the table', async () => {
    const registry = new Registry();
    const m = declareMetrics([registry], {
      requests: { kind: 'counter', name: 't_requests_total', help: 'Requests by mode.', labels: ['mode'] },
      depth: { kind: 'gauge', name: 't_depth', help: 'Waiting requests.' },
      latency: { kind: 'histogram', name: 't_latency_seconds', help: 'Latency.', labels: ['mode'], buckets: [0.1, 1] },
    });
    m.requests.inc({ mode: 'a' }, 2);
    m.depth.set(5);
    m.latency.observe({ mode: 'b' }, 0.5);
    expect(await registry.metrics()).toBe(
      [
        '# HELP t_requests_total Requests by mode.',
        '# TYPE t_requests_total counter',
        't_requests_total{mode="a"} 2',
        '',
        '# HELP t_depth Waiting requests.',
        '# TYPE t_depth gauge',
        't_depth 5',
        '',
        '# HELP t_latency_seconds Latency.',
        '# TYPE t_latency_seconds histogram',
        't_latency_seconds_bucket{le="0.1",mode="b"} 0',
        't_latency_seconds_bucket{le="1",mode="b"} 1',
        't_latency_seconds_bucket{le="+Inf",mode="b"} 1',
        't_latency_seconds_sum{mode="b"} 0.5',
        't_latency_seconds_count{mode="b"} 1',
        '',
      ].join('\n'),
    );
  });

  it('reads a row’s value at every scrape: a number, every labelled series there is, or nothing yet', async () => {
    const registry = new Registry();
    let total = 3;
    let levels: { worker: string; value: number }[] = [
      { worker: 'a', value: 1 },
      { worker: 'b', value: 2 },
    ];
    let forecast: number | undefined;
    declareMetrics([registry], {
      total: { kind: 'counter', name: 't_read_total', help: 'A running total kept elsewhere.', read: () => total },
      level: {
        kind: 'gauge',
        name: 't_level',
        help: 'Per worker.',
        labels: ['worker'],
        read: () => levels.map(({ worker, value }) => ({ labels: { worker }, value })),
      },
      forecast: { kind: 'gauge', name: 't_forecast', help: 'Once known.', read: () => forecast },
    });
    const series = async () =>
      (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(await series()).toEqual([
      't_read_total 3',
      't_level{worker="a"} 1',
      't_level{worker="b"} 2',
      't_forecast 0',
    ]);
    total = 5;
    levels = [{ worker: 'b', value: 7 }];
    forecast = 1.5;
    expect(await series()).toEqual(['t_read_total 5', 't_level{worker="b"} 7', 't_forecast 1.5']);
    forecast = undefined;
    expect(await series()).toContain('t_forecast 1.5');
  });

  it('keeps each row’s aggregator for the cluster primary’s merge (sum when unset)', async () => {
    const registry = new Registry();
    declareMetrics([registry], {
      load: { kind: 'gauge', name: 't_load', help: 'Per-process load.', aggregator: 'max' },
      served: { kind: 'counter', name: 't_served_total', help: 'Served.' },
    });
    const json = await registry.getMetricsAsJSON();
    expect(json.map((metric) => [metric.name, metric.aggregator])).toEqual([
      ['t_load', 'max'],
      ['t_served_total', 'sum'],
    ]);
  });

  it('registers a table given no registry nowhere, not in prom-client’s global registry', async () => {
    const m = declareMetrics([], { orphan: { kind: 'counter', name: 't_orphan_total', help: 'Unregistered.' } });
    m.orphan.inc();
    expect(globalRegistry.getSingleMetric('t_orphan_total')).toBeUndefined();
    expect((await m.orphan.get()).values[0]?.value).toBe(1);
  });
});
