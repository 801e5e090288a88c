import { describe, expect, it } from 'vitest';
import { ORCHESTRATOR_METRICS as M } from '../../orchestrator/metrics/names.ts';
import {
  histogramBuckets,
  histogramQuantile,
  histogramShareBelow,
  observationFromScrapes,
  parseObservations,
  parsePrometheusText,
  type Scrape,
} from './index.ts';

const pools = [
  { name: 'prefill', role: 'prefill' as const, workerPrefix: undefined },
  { name: 'decode', role: 'decode' as const, workerPrefix: undefined },
];
const slo = { ttftS: 1, itlS: 0.05 };

/** The orchestrator's exposition at one moment: counters and histograms as prom-client writes them. */
function exposition(v: {
  requests: number;
  prompt: number;
  cached: number;
  generated: number;
  ttft: [number, number, number];
  queue: number;
}): string {
  const [fast, medium, all] = v.ttft;
  return `# HELP ${M.requests} Requests.
# TYPE ${M.requests} counter
${M.requests}{outcome="success",mode="disaggregated"} ${v.requests - 2}
${M.requests}{outcome="error",mode="aggregated"} 2
# TYPE ${M.promptTokens} counter
${M.promptTokens} ${v.prompt}
${M.cachedPromptTokens} ${v.cached}
${M.generationTokens} ${v.generated}
# TYPE ${M.timeToFirstToken} histogram
${M.timeToFirstToken}_bucket{le="0.5",mode="disaggregated"} ${fast}
${M.timeToFirstToken}_bucket{le="1",mode="disaggregated"} ${medium}
${M.timeToFirstToken}_bucket{le="+Inf",mode="disaggregated"} ${all}
${M.timeToFirstToken}_sum{mode="disaggregated"} 0
${M.timeToFirstToken}_count{mode="disaggregated"} ${all}
${M.queueDepth} ${v.queue}
${M.workerHealthy}{worker="p-0",role="prefill"} 1
${M.workerHealthy}{worker="d-0",role="decode"} 1
${M.workerHealthy}{worker="d-1",role="decode"} 0
${M.workerInflightRequests}{worker="d-0",role="decode"} 7
${M.workerQueuedPrefillTokens}{worker="p-0"} 4096
${M.workerActiveKvBlocks}{worker="d-0"} 300
${M.workerActiveKvBlocks}{worker="d-1"} 20
`;
}

function scrape(atMs: number, text: string): Scrape {
  const parsed = parsePrometheusText(text);
  if (!parsed.ok) throw parsed.error;
  return { atMs, samples: parsed.value };
}

describe('observation from scrapes', () => {
  it('parses labels with escapes, special values and timestamps', () => {
    const parsed = parsePrometheusText(
      'a{x="q\\"uote",y="back\\\\slash\\n"} +Inf 1700000000000\nb NaN\n# comment\n\nc{} 3e2\n',
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value[0]).toEqual({ name: 'a', labels: { x: 'q"uote', y: 'back\\slash\n' }, value: Infinity });
    expect(Number.isNaN(parsed.value[1]!.value)).toBe(true);
    expect(parsed.value[2]).toEqual({ name: 'c', labels: {}, value: 300 });
  });

  it('rejects a malformed line, naming it', () => {
    const parsed = parsePrometheusText('ok 1\nbroken{x="1" 2\n');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toContain('line 2');
  });

  it('diffs counters and histograms between two scrapes, per second', () => {
    // 60 s apart: 120 more requests (2 req/s); 240,000 prompt tokens (2000 per request) of which
    // 60,000 cached (25%); 36,000 generated (300 per request). TTFT buckets gained 60 / 108 / 120:
    // p90 rank 108 falls exactly at the 1 s bound; 108 / 120 = 90% within the 1 s SLO.
    const before = scrape(
      0,
      exposition({ requests: 10, prompt: 5000, cached: 0, generated: 900, ttft: [5, 8, 10], queue: 0 }),
    );
    const after = scrape(
      60_000,
      exposition({ requests: 130, prompt: 245_000, cached: 60_000, generated: 36_900, ttft: [65, 116, 130], queue: 3 }),
    );
    const observation = observationFromScrapes(before, after, pools, slo);
    expect(observation.requestRate).toBeCloseTo(2, 9);
    expect(observation.islMean).toBeCloseTo(2000, 9);
    expect(observation.oslMean).toBeCloseTo(300, 9);
    expect(observation.prefixHitRate).toBeCloseTo(0.25, 9);
    expect(observation.ttftP90S).toBeCloseTo(1, 9);
    // p50: rank 60 of the 60 in the first bucket -> its upper bound 0.5 s.
    expect(observation.ttftP50S).toBeCloseTo(0.5, 9);
    expect(observation.ttftAttainment).toBeCloseTo(0.9, 9);
    expect(observation.queueDepth).toBe(3);
    expect(observation.pools).toEqual({
      prefill: { replicas: 1, inflightRequests: 0, queuedPrefillTokens: 4096, activeKvBlocks: 0 },
      decode: { replicas: 1, inflightRequests: 7, queuedPrefillTokens: 0, activeKvBlocks: 320 },
    });
  });

  it('treats a counter that went down as reset', () => {
    const before = scrape(
      0,
      exposition({ requests: 1000, prompt: 1e6, cached: 0, generated: 1e5, ttft: [500, 800, 1000], queue: 0 }),
    );
    const after = scrape(
      10_000,
      exposition({ requests: 20, prompt: 20_000, cached: 0, generated: 2000, ttft: [10, 16, 20], queue: 0 }),
    );
    const observation = observationFromScrapes(before, after, pools, slo);
    expect(observation.requestRate).toBeCloseTo(2, 9);
    expect(observation.islMean).toBeCloseTo(1000, 9);
  });

  it('computes quantiles and SLO shares like histogram_quantile', () => {
    const h = { bounds: [0.1, 0.2, 0.4, Infinity], counts: [10, 30, 90, 100] };
    // rank 0.5 x 100 = 50 in (0.2, 0.4]: 0.2 + 0.2 x (50 - 30) / 60 = 0.2667.
    expect(histogramQuantile(h, 0.5)).toBeCloseTo(0.2 + (0.2 * 20) / 60, 9);
    // rank 95 in the +Inf bucket: the largest finite bound.
    expect(histogramQuantile(h, 0.95)).toBe(0.4);
    expect(histogramShareBelow(h, 0.3)).toBeCloseTo((30 + 30) / 100, 9);
    expect(histogramQuantile({ bounds: [1], counts: [0] }, 0.5)).toBeUndefined();
  });
});

describe('pushed observations', () => {
  it('reads the snake_case fields, histograms and pools', () => {
    const parsed = parseObservations(
      {
        request_rate: 3,
        isl_mean: 1000,
        osl_mean: 200,
        prefix_hit_rate: 0.4,
        ttft_p90_s: 0.7,
        itl_p90_s: 0.02,
        isl_histogram: { le: [512, '+Inf'], counts: [4, 10] },
        pools: { decode: { replicas: 2 } },
      },
      1000,
      30,
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value[0]).toMatchObject({
      atMs: 1000,
      intervalS: 30,
      requestRate: 3,
      prefixHitRate: 0.4,
      ttftP90S: 0.7,
      isl: { bounds: [512, Infinity], counts: [4, 10] },
    });
    expect(parsed.value[0]!.pools?.decode).toEqual({
      replicas: 2,
      inflightRequests: 0,
      queuedPrefillTokens: 0,
      activeKvBlocks: 0,
    });
  });

  it('spaces an array of observations one interval apart, the last at now', () => {
    const parsed = parseObservations(
      [
        { request_rate: 1, isl_mean: 1, osl_mean: 1 },
        { request_rate: 2, isl_mean: 1, osl_mean: 1 },
      ],
      100_000,
      30,
    );
    if (!parsed.ok) throw parsed.error;
    expect(parsed.value.map((o) => o.atMs)).toEqual([70_000, 100_000]);
  });

  it('rejects unknown keys and bad values, naming the field', () => {
    const unknown = parseObservations({ request_rate: 1, isl_mean: 1, osl_mean: 1, isl: 5 }, 0, 30);
    expect(!unknown.ok && unknown.error.message).toContain('unknown key isl');
    const range = parseObservations({ request_rate: 1, isl_mean: 1, osl_mean: 1, prefix_hit_rate: 1.5 }, 0, 30);
    expect(!range.ok && range.error.message).toContain('prefix_hit_rate');
    const histogram = parseObservations(
      { request_rate: 1, isl_mean: 1, osl_mean: 1, isl_histogram: { le: [2, 1], counts: [1, 2] } },
      0,
      30,
    );
    expect(!histogram.ok && histogram.error.message).toContain('bounds must ascend');
  });
});

describe('histogram buckets', () => {
  it('turns cumulative counts into per-bucket counts, never negative, the first from 0', () => {
    expect(histogramBuckets({ bounds: [10, 20, 40, Infinity], counts: [3, 3, 7, 6] })).toEqual([
      { lower: 0, upper: 10, count: 3 },
      { lower: 10, upper: 20, count: 0 },
      { lower: 20, upper: 40, count: 4 },
      { lower: 40, upper: Infinity, count: 0 },
    ]);
  });
});
