import { describe, expect, it } from 'vitest';
import { createRng } from '../../common/rng.ts';
import { formatSummary, formatSweepTable, sweepToCsv } from './format.ts';
import { hitRateUpperBound } from './hit-rate-bound.ts';
import { createLogHistogram } from './log-histogram.ts';
import { percentilesOf, quantileOfSorted } from './percentiles.ts';
import { createRunRecorder, loadImbalance, type RequestRecord } from './recorder.ts';
import { runSummarySchema } from './run-summary.ts';

describe('percentiles', () => {
  it('interpolates between the closest ranks (type 7) on hand-computed samples', () => {
    // sorted: 1 2 3 4 10; h = 4q
    const p = percentilesOf([10, 3, 1, 4, 2])!;
    expect(p.p50).toBe(3); // h = 2
    expect(p.p90).toBeCloseTo(4 + 0.6 * 6, 12); // h = 3.6 -> 7.6
    expect(p.p99).toBeCloseTo(4 + 0.96 * 6, 12); // h = 3.96 -> 9.76
    expect(p).toMatchObject({ count: 5, mean: 4, min: 1, max: 10 });
    expect(quantileOfSorted([5], 0.9)).toBe(5);
    expect(quantileOfSorted([0, 100], 0.25)).toBe(25);
    expect(percentilesOf([])).toBeNull();
  });

  it('keeps a log histogram within 0.27% of the exact percentiles, with exact count, mean, min and max', () => {
    const rng = createRng('hist');
    const samples = Array.from({ length: 50_000 }, () => Math.exp(rng.normal(3, 1.2)));
    const histogram = createLogHistogram();
    for (const value of samples) histogram.add(value);
    const exact = percentilesOf(samples)!;
    const approx = histogram.summary()!;
    for (const key of ['p50', 'p90', 'p99'] as const)
      expect(Math.abs(approx[key] / exact[key] - 1)).toBeLessThan(0.0027);
    expect(approx.count).toBe(exact.count);
    expect(approx.mean).toBeCloseTo(exact.mean, 6);
    expect([approx.min, approx.max]).toEqual([exact.min, exact.max]);
  });

  it('counts repeated gaps in a log histogram as that many samples', () => {
    const histogram = createLogHistogram();
    histogram.add(10, 90);
    histogram.add(100, 10);
    expect(histogram.count).toBe(100);
    expect(histogram.quantile(0.5)).toBeCloseTo(10, 1);
    expect(histogram.quantile(0.95)).toBeCloseTo(100, 0);
    expect(histogram.summary()!.mean).toBeCloseTo(19, 9);
  });
});

describe('run summary', () => {
  const base = { arrivalMs: 0, sentMs: 0, promptTokens: 100, sharedPrefixTokens: 0, outputTokens: 11 };
  const outcomes: RequestRecord[] = [
    // ttft 100, tpot (1100 - 100) / 10 = 100
    {
      ...base,
      id: 'a',
      ok: true,
      firstTokenMs: 100,
      lastTokenMs: 1100,
      endMs: 1110,
      cachedPromptTokens: 0,
      itlGapsMs: [100, 100],
    },
    // sent 50 ms late; ttft 300 - 50 = 250 (misses 200), tpot 20
    {
      ...base,
      id: 'b',
      ok: true,
      arrivalMs: 0,
      sentMs: 50,
      firstTokenMs: 300,
      lastTokenMs: 500,
      endMs: 500,
      sharedPrefixTokens: 40,
      cachedPromptTokens: 32,
      itlGapsMs: [20],
    },
    // ttft 50, tpot 30: meets both
    {
      ...base,
      id: 'c',
      ok: true,
      sentMs: 1000,
      arrivalMs: 1000,
      firstTokenMs: 1050,
      lastTokenMs: 1350,
      endMs: 2000,
      sharedPrefixTokens: 100,
      cachedPromptTokens: 96,
    },
    { ...base, id: 'd', ok: false, failure: 'http_503', endMs: 10, outputTokens: 0 },
    { ...base, id: 'e', ok: false, failure: 'timeout', endMs: 1500, outputTokens: 3, itlGapsMs: [5, 5] },
  ];

  function summarize() {
    const recorder = createRunRecorder({ slo: { ttftMs: 200, itlMs: 50 }, blockSize: 16 });
    for (const outcome of outcomes) recorder.record(outcome);
    return recorder.finish({ workerBusy: [10, 30, 20] });
  }

  it('counts requests, throughput and latencies from the outcomes', () => {
    const s = summarize();
    expect(s.requests).toEqual({ sent: 5, completed: 3, failed: 2, failures: { http_503: 1, timeout: 1 } });
    expect(s.duration_s).toBe(2);
    expect(s.request_rate).toBe(1.5);
    expect(s.output_tokens_per_s).toBe(16.5);
    expect(s.ttft_ms).toMatchObject({ count: 3, p50: 100, min: 50, max: 250 });
    expect(s.tpot_ms).toMatchObject({ count: 3, p50: 30, min: 20, max: 100 });
    expect(s.e2e_ms).toMatchObject({ p50: 1000, min: 450, max: 1110 });
    expect(s.itl_ms?.count).toBe(3); // failed requests' gaps are left out
    expect(s.send_lag_ms).toMatchObject({ max: 50 });
  });

  it('measures the hit rate from usage and bounds it at whole blocks', () => {
    const s = summarize();
    expect(s.prefix_cache.hit_rate).toBeCloseTo(128 / 300, 12);
    expect(s.prefix_cache.upper_bound).toBeCloseTo((32 + 96) / 300, 12); // 40 -> 32, 100 -> 96 at 16-token blocks
    expect(s.prefix_cache.reported_by).toBe(3);
  });

  it('judges the SLO per request by TTFT and mean inter-token latency, failures missing it', () => {
    const s = summarize();
    expect(s.slo.attainment).toBeCloseTo(1 / 5, 12); // only c: a's TPOT 100 > 50, b's TTFT 250 > 200
    expect(s.slo.goodput_rps).toBeCloseTo(0.5, 12);
    expect(s.load_imbalance).toBeCloseTo(1.5, 12);
    expect(s.kv_transfer_bytes).toBeNull();
  });

  it('is valid against its own schema, and survives JSON', () => {
    const s = summarize();
    expect(runSummarySchema.parse(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const empty = createRunRecorder({ slo: { ttftMs: 1, itlMs: 1 } }).finish();
    expect(runSummarySchema.parse(empty)).toMatchObject({
      ttft_ms: null,
      prefix_cache: { hit_rate: null, upper_bound: null },
      slo: { attainment: null },
    });
  });

  it('prints a readable block, an aligned sweep table and CSV with one row per point', () => {
    const s = summarize();
    expect(formatSummary(s)).toMatch(/requests\s+3 completed, 2 failed \(http_503 1, timeout 1\) of 5 in 2\.0 s/);
    const rows = [
      { labels: { policy: 'kv', qps: 3 }, summary: s },
      { labels: { policy: 'round, "robin"', qps: 6 }, summary: s },
    ];
    const table = formatSweepTable(rows).split('\n');
    expect(table).toHaveLength(3);
    expect(table[0]).toMatch(/^policy\s+qps\s+done\s+fail/);
    const csv = sweepToCsv(rows).trim().split('\n');
    expect(csv[0]!.startsWith('policy,qps,completed,failed,duration_s')).toBe(true);
    expect(csv[2]!.startsWith('"round, ""robin""",6,3,2,2,')).toBe(true);
    expect(csv[1]!.split(',')).toHaveLength(csv[0]!.split(',').length);
  });

  it('computes load imbalance as max over mean, unknown without workers', () => {
    expect(loadImbalance([5, 5, 5, 5])).toBe(1);
    expect(loadImbalance([0, 0])).toBeNull();
    expect(loadImbalance(undefined)).toBeNull();
    expect(hitRateUpperBound([])).toBeNull();
  });
});
