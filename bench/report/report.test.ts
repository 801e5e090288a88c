import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRunRecorder } from '../stats/recorder.ts';
import type { RunSummary } from '../stats/run-summary.ts';
import { buildReport } from './build-report.ts';
import type { ResultFile, ResultRun } from './result-file.ts';
import { renderLineChart } from './svg/line-chart.ts';
import { logScale, niceTicks, wantsLog } from './svg/scale.ts';
import { checkXml } from './svg/xml-check.ts';

const dir = mkdtempSync(join(tmpdir(), 'tandem-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function summary(ttftMs: number, hit: number): RunSummary {
  const recorder = createRunRecorder({ slo: { ttftMs: 1000, itlMs: 50 } });
  for (let i = 0; i < 10; i++) {
    recorder.record({
      id: `r${i}`,
      ok: true,
      arrivalMs: i,
      sentMs: i,
      firstTokenMs: i + ttftMs,
      lastTokenMs: i + ttftMs + 90,
      endMs: i + ttftMs + 90,
      promptTokens: 1000,
      sharedPrefixTokens: 950,
      cachedPromptTokens: 1000 * hit,
      outputTokens: 10,
      itlGapsMs: [10],
    });
  }
  return recorder.finish({ durationMs: 1000 });
}

function run(policy: string, qps: number, ttftMs: number, extra: Partial<ResultRun> = {}): ResultRun {
  return {
    command: `npx tandem simulate --policy ${policy} --qps 3,30,60`,
    tool: 'simulate',
    policy,
    label: null,
    qps,
    concurrency: null,
    workload: { name: 'llmd-shared-prefix', seed: '1', params: { rate: qps } },
    setup: { workers: 8 },
    summary: summary(ttftMs, policy === 'kv' ? 0.8 : 0.2),
    ...extra,
  };
}

function file(experiment: string, runs: ResultRun[], title?: string): ResultFile {
  return {
    format: 'tandem-bench-result',
    version: 1,
    experiment,
    ...(title ? { title } : {}),
    created_at: '2026-01-01T00:00:00.000Z',
    runs,
  };
}

describe('SVG charts', () => {
  it('picks 1-2-5 ticks covering the data, and decades on a log axis', () => {
    expect(niceTicks(0, 60)).toEqual({ ticks: [0, 20, 40, 60], domain: [0, 60] });
    expect(niceTicks(0, 8730).ticks).toEqual([0, 2000, 4000, 6000, 8000, 10000]);
    expect(niceTicks(0.3, 0.92).ticks).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(logScale([0.5, 92], [0, 100]).ticks).toEqual([0.1, 1, 10, 100]);
    expect(logScale([2, 30], [0, 100]).ticks).toEqual([1, 2, 5, 10, 20, 50, 100]);
    expect(wantsLog([0.54, 92.6])).toBe(true);
    expect(wantsLog([4429, 8730])).toBe(false);
    expect(wantsLog([0, 50])).toBe(false);
  });

  it('accepts well-formed XML and rejects the usual breakages', () => {
    expect(
      checkXml('<?xml version="1.0"?><svg a="1"><g><text>x &amp; y</text></g><path d="M0 0"/></svg>').problem,
    ).toBeUndefined();
    expect(checkXml('<svg><g></svg>').problem).toMatch(/closes <g>/);
    expect(checkXml('<svg a=1/>').problem).toMatch(/not quoted/);
    expect(checkXml('<svg><text>a & b</text></svg>').problem).toMatch(/bad entity/);
    expect(checkXml('<svg/><svg/>').problem).toMatch(/second root/);
    expect(checkXml('<svg a="1" a="2"/>').problem).toMatch(/given twice/);
    expect(checkXml('<svg>').problem).toMatch(/never closed/);
    expect(checkXml('<svg t="<"/>').problem).toMatch(/< in attribute/);
  });

  it('draws a valid SVG with title, axis labels, tick labels and a legend, escaping names', () => {
    const svg = renderLineChart({
      title: 'TTFT <p90>',
      xLabel: 'offered load (requests/s)',
      yLabel: 'TTFT p90 (s)',
      series: [
        {
          name: 'kv & friends',
          points: [
            { x: 3, y: 0.5 },
            { x: 30, y: 0.6 },
            { x: 60, y: null },
          ],
        },
        {
          name: 'random',
          points: [
            { x: 3, y: 1 },
            { x: 30, y: 40 },
            { x: 60, y: 92 },
          ],
        },
      ],
    });
    const check = checkXml(svg);
    expect(check.problem).toBeUndefined();
    expect(check.root).toBe('svg');
    expect(check.texts).toEqual(
      expect.arrayContaining([
        'TTFT &lt;p90&gt;',
        'offered load (requests/s)',
        'TTFT p90 (s) (log scale)',
        'kv &amp; friends',
        'random',
        '0.1',
        '1',
        '10',
        '100',
      ]),
    );
    expect(check.elements.filter((e) => e === 'path')).toHaveLength(2);
  });

  it('keeps a linear axis when the values span little', () => {
    const check = checkXml(
      renderLineChart({
        title: 't',
        xLabel: 'x',
        yLabel: 'output tokens/s',
        series: [
          {
            name: 'a',
            points: [
              { x: 1, y: 4429 },
              { x: 2, y: 8730 },
            ],
          },
        ],
      }),
    );
    expect(check.texts).toContain('output tokens/s');
    expect(check.texts).toEqual(expect.arrayContaining(['0', '2k', '4k', '6k', '8k']));
  });

  it('says "no data" instead of drawing empty axes', () => {
    const check = checkXml(
      renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: 1, y: null }] }] }),
    );
    expect(check.problem).toBeUndefined();
    expect(check.texts).toContain('no data');
  });
});

describe('report builder', () => {
  const inDir = join(dir, 'results');
  const outDir = join(dir, 'out');

  it('writes one page per experiment with tables, the exact commands, and valid SVG figures', () => {
    mkdirSync(inDir, { recursive: true });
    const sweep = [
      run('kv', 3, 100),
      run('kv', 30, 200),
      run('kv', 60, 400),
      run('random', 3, 150),
      run('random', 30, 9000),
      run('random', 60, 92000),
    ];
    writeFileSync(
      join(inDir, 'a.json'),
      JSON.stringify(file('llmd-kv-wins', sweep.slice(0, 3), 'llm-d KV-cache wins')),
    );
    writeFileSync(join(inDir, 'b.json'), JSON.stringify(file('llmd-kv-wins', sweep.slice(3))));
    const planned = run('kv', 10, 300, {
      label: 'planner',
      workload: { name: 'diurnal', seed: '1', params: {} },
      series: {
        replicas: [
          { t_s: 0, prefill: 2, decode: 2 },
          { t_s: 60, prefill: 3, decode: 4 },
        ],
      },
    });
    writeFileSync(join(inDir, 'planner.json'), JSON.stringify(file('diurnal-planner', [planned])));
    writeFileSync(join(inDir, 'llmd-kv-wins.notes.md'), '**Verdict**: met at 30 req/s.\n');
    writeFileSync(
      join(inDir, 'broken.json'),
      JSON.stringify({ format: 'tandem-bench-result', version: 1, experiment: 'Bad Name', created_at: 'x', runs: [] }),
    );

    const result = buildReport({ inDir, outDir });
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/broken\.json: experiment: must be kebab-case/);
    expect(result.written).toEqual(
      expect.arrayContaining([
        'llmd-kv-wins.md',
        'llmd-kv-wins-ttft-p90.svg',
        'llmd-kv-wins-throughput.svg',
        'llmd-kv-wins-hit-rate.svg',
        'diurnal-planner.md',
        'diurnal-planner-replicas.svg',
        'README.md',
      ]),
    );
    expect(result.written).not.toContain('llmd-kv-wins-replicas.svg');

    const page = readFileSync(join(outDir, 'llmd-kv-wins.md'), 'utf8');
    expect(page).toMatch(/^# llm-d KV-cache wins/);
    expect(page).toMatch(/\*\*Verdict\*\*: met at 30 req\/s\.\n\nSources:/);
    expect(readFileSync(join(outDir, 'diurnal-planner.md'), 'utf8')).not.toContain('Verdict');
    expect(page).toContain('npx tandem simulate --policy kv --qps 3,30,60');
    expect(page).toContain('npx tandem simulate --policy random --qps 3,30,60');
    expect(page.split('\n').filter((line) => /^\| (kv|random) \|/.test(line))).toHaveLength(6);
    expect(page).toMatch(/\| random \| 60 \| - \| 10 \| 0 \| .* \| 92\.00 \|/); // TTFT p50 in seconds
    for (const image of page.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g))
      expect(existsSync(join(outDir, image[1]!))).toBe(true);

    for (const name of result.written.filter((n) => n.endsWith('.svg'))) {
      const check = checkXml(readFileSync(join(outDir, name), 'utf8'));
      expect(check.problem, name).toBeUndefined();
      expect(check.root).toBe('svg');
    }
    const ttft = checkXml(readFileSync(join(outDir, 'llmd-kv-wins-ttft-p90.svg'), 'utf8'));
    expect(ttft.texts).toEqual(
      expect.arrayContaining(['kv', 'random', 'TTFT p90 (s) (log scale)', 'offered load (requests/s)']),
    );
    const hit = checkXml(readFileSync(join(outDir, 'llmd-kv-wins-hit-rate.svg'), 'utf8'));
    expect(hit.texts).toEqual(expect.arrayContaining(['upper bound (each prefix once)', '100%']));
    const replicas = checkXml(readFileSync(join(outDir, 'diurnal-planner-replicas.svg'), 'utf8'));
    expect(replicas.texts).toEqual(
      expect.arrayContaining(['prefill', 'decode', 'time since the run started (s)', 'replicas']),
    );

    const index = readFileSync(join(outDir, 'README.md'), 'utf8');
    expect(index).toContain('[llm-d KV-cache wins](llmd-kv-wins.md): 6 runs');
    expect(index).toMatch(/Skipped files[\s\S]*broken\.json/);
  });

  it('writes the same bytes when run twice on the same results', () => {
    const first =
      readFileSync(join(outDir, 'llmd-kv-wins.md'), 'utf8') +
      readFileSync(join(outDir, 'llmd-kv-wins-ttft-p90.svg'), 'utf8');
    buildReport({ inDir, outDir });
    expect(
      readFileSync(join(outDir, 'llmd-kv-wins.md'), 'utf8') +
        readFileSync(join(outDir, 'llmd-kv-wins-ttft-p90.svg'), 'utf8'),
    ).toBe(first);
  });
});

describe("a page beside a peer's published figures", () => {
  it('puts each published row beside the run with its label, with the ratios, and says which were not run', () => {
    const out = join(dir, 'published');
    const inDir = join(dir, 'published-in');
    mkdirSync(inDir, { recursive: true });
    const runs = [
      run('kv', 1, 500, { label: 'kv, precise index', setup: { workers: 8, wait_queue_mean: 0.2 } }),
      run('random', 1, 50_000, { label: 'random', setup: { workers: 8, wait_queue_mean: 20 } }),
    ];
    writeFileSync(join(inDir, 'ladder.json'), JSON.stringify(file('llmd-ladder', runs)));
    expect(buildReport({ inDir, outDir: out }).problems).toEqual([]);
    const page = readFileSync(join(out, 'llmd-ladder.md'), 'utf8');
    expect(page).toContain('## Beside the published figures');
    const row = (start: string) => page.split('\n').find((line) => line.startsWith(start))!;
    expect(row('| precise-scheduling (published) | 8730 | 0.542 | 0.298 | 0.1 | 1.97x | 171x |')).toBeDefined();
    // Ours: 10 requests x 10 tokens over 1 s, TTFT 0.5 s, against our random's 50 s.
    expect(row('| kv, precise index (Tandem) | 100 | 0.500 | 0.500 | 0.2 | 1.00x | 100x | 0 of 10 |')).toBeDefined();
    expect(row('| ours / theirs | 0.01x | 0.92x | 1.68x |')).toBeDefined();
    expect(row('| least-loaded (Tandem) | not run |')).toBeDefined();
  });
});
