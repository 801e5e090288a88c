import { tableRow } from './markdown-table.ts';
import type { ResultRun } from './result-file.ts';

/**
 * Figures a peer published for the benchmark an experiment reproduces, put beside ours on that
 * experiment's page with the ratios. Data, with its source; nothing here is measured by us.
 */
export interface PublishedRow {
  /** The peer's name for the configuration. */
  readonly theirs: string;
  /** The `label` of our run that stands for it. */
  readonly ours: string;
  readonly outputTokensPerS: number;
  readonly ttftP90S: number;
  readonly ttftMeanS: number;
  /** Mean of vLLM's num_requests_waiting per pod over the run. */
  readonly waitQueueMean: number;
}

export interface PublishedTable {
  readonly source: string;
  readonly what: string;
  readonly rows: readonly PublishedRow[];
  /** The row every other is compared with (x its throughput, / its TTFT). */
  readonly baseline: string;
}

/** By experiment name. */
export const PUBLISHED: Readonly<Record<string, PublishedTable>> = {
  'llmd-ladder': {
    source:
      'https://github.com/llm-d/llm-d-kv-cache-manager/blob/main/benchmarking/73-capacity/README.md ("Summary across QPS" and "EPP Queue and KV Cache Metrics Summary"; the blog post "KV-Cache Wins You Can See" quotes the same runs, with 4,428.7 output tok/s for load-scheduling)',
    what: 'llm-d 0.3 on 8 x vLLM (Qwen3-32B, 2 x H100 each), inference-perf shared-prefix, one Poisson ladder 15 req/s x 50 s then 3 -> 60 req/s',
    baseline: 'random',
    rows: [
      {
        theirs: 'precise-scheduling',
        ours: 'kv, precise index',
        outputTokensPerS: 8730.0,
        ttftP90S: 0.542,
        ttftMeanS: 0.298,
        waitQueueMean: 0.1,
      },
      {
        theirs: 'estimated-scheduling (approximate)',
        ours: 'kv, approximate index',
        outputTokensPerS: 6944.4,
        ttftP90S: 31.083,
        ttftMeanS: 13.316,
        waitQueueMean: 8.1,
      },
      {
        theirs: 'load-scheduling',
        ours: 'least-loaded',
        outputTokensPerS: 4266.4,
        ttftP90S: 94.865,
        ttftMeanS: 46.987,
        waitQueueMean: 28.9,
      },
      {
        theirs: 'random-scheduling',
        ours: 'random',
        outputTokensPerS: 4428.7,
        ttftP90S: 92.551,
        ttftMeanS: 45.281,
        waitQueueMean: 27.3,
      },
    ],
  },
};

/** The page section: their row and ours side by side, each against its own baseline row. */
export function publishedLines(table: PublishedTable, runs: readonly ResultRun[]): string[] {
  const ourRun = (label: string) => runs.find((run) => run.label === label);
  const theirBase = table.rows.find((row) => row.ours === table.baseline);
  const ourBase = ourRun(table.baseline);
  const lines = [
    '## Beside the published figures',
    '',
    `${table.what}. Source: ${table.source}.`,
    '',
    `Each set is compared with its own \`${table.baseline}\` row (x throughput, / TTFT p90); "ours / theirs" divides our figure by theirs.`,
    '',
    '| configuration | output tok/s | TTFT p90 (s) | TTFT mean (s) | wait queue (mean) | x throughput | / TTFT p90 | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of table.rows) {
    lines.push(
      `| ${row.theirs} (published) | ${fixed(row.outputTokensPerS, 0)} | ${fixed(row.ttftP90S, 3)} | ${fixed(row.ttftMeanS, 3)} | ${fixed(row.waitQueueMean, 1)} | ${ratio(row.outputTokensPerS, theirBase?.outputTokensPerS)} | ${ratio(theirBase?.ttftP90S, row.ttftP90S)} | - |`,
    );
    const run = ourRun(row.ours);
    if (!run) {
      lines.push(`| ${row.ours} (Tandem) | not run | | | | | | |`);
      continue;
    }
    const s = run.summary;
    const p90 = seconds(s.ttft_ms?.p90);
    const wait = run.setup.wait_queue_mean;
    lines.push(
      tableRow([
        `${row.ours} (Tandem)`,
        fixed(s.output_tokens_per_s, 0),
        fixed(p90, 3),
        fixed(seconds(s.ttft_ms?.mean), 3),
        typeof wait === 'number' ? fixed(wait, 1) : '-',
        ratio(s.output_tokens_per_s, ourBase?.summary.output_tokens_per_s),
        ratio(seconds(ourBase?.summary.ttft_ms?.p90), p90),
        `${s.requests.failed} of ${s.requests.sent}`,
      ]),
      tableRow([
        'ours / theirs',
        ratio(s.output_tokens_per_s, row.outputTokensPerS),
        ratio(p90, row.ttftP90S),
        ratio(seconds(s.ttft_ms?.mean), row.ttftMeanS),
        '',
        '',
        '',
        '',
      ]),
    );
  }
  return [...lines, ''];
}

function seconds(msValue: number | undefined): number | undefined {
  return msValue === undefined ? undefined : msValue / 1000;
}

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? '-' : value.toFixed(digits);
}

/** a / b as `1.23x`, or `-` when either is missing or b is 0. */
function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '-';
  const r = a / b;
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}
