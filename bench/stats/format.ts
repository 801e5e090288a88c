import type { Percentiles } from './percentiles.ts';
import type { RunSummary } from './run-summary.ts';

/** A human-readable block of one run's figures (what `--json` does not print). */
export function formatSummary(summary: RunSummary): string {
  const r = summary.requests;
  const failures = Object.entries(r.failures)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const pc = summary.prefix_cache;
  const rows: [string, string][] = [
    [
      'requests',
      `${r.completed} completed, ${r.failed} failed${failures ? ` (${failures})` : ''} of ${r.sent} in ${fixed(summary.duration_s, 1)} s`,
    ],
    ['throughput', `${fixed(summary.request_rate, 2)} req/s, ${fixed(summary.output_tokens_per_s, 1)} output tokens/s`],
    ['TTFT ms', percentileLine(summary.ttft_ms)],
    ['ITL ms', percentileLine(summary.itl_ms)],
    ['TPOT ms', percentileLine(summary.tpot_ms)],
    ['E2E ms', percentileLine(summary.e2e_ms)],
    ['send lag ms', percentileLine(summary.send_lag_ms)],
    [
      'prefix cache',
      `hit rate ${percent(pc.hit_rate)} (bound ${percent(pc.upper_bound)} at ${pc.block_size}-token blocks; ${pc.reported_by} requests reported cached tokens)`,
    ],
    ['load imbalance', summary.load_imbalance === null ? 'unknown' : fixed(summary.load_imbalance, 3)],
    ['KV transferred', summary.kv_transfer_bytes === null ? 'unknown' : bytes(summary.kv_transfer_bytes)],
    [
      'SLO',
      `TTFT <= ${summary.slo.ttft_ms} ms and TPOT <= ${summary.slo.itl_ms} ms: ${percent(summary.slo.attainment)} of requests, goodput ${fixed(summary.slo.goodput_rps, 2)} req/s`,
    ],
  ];
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join('\n');
}

function percentileLine(p: Percentiles | null): string {
  if (!p) return '-';
  return `p50 ${ms(p.p50)}  p90 ${ms(p.p90)}  p99 ${ms(p.p99)}  mean ${ms(p.mean)}  max ${ms(p.max)}  (n=${p.count})`;
}

/** One labelled row of a sweep: the columns that say which point it is, then its summary. */
export interface SweepRow {
  readonly labels: Readonly<Record<string, string | number | null>>;
  readonly summary: RunSummary;
}

/** The flat figures a sweep table and CSV carry, in order. */
export const SUMMARY_COLUMNS = [
  'completed',
  'failed',
  'duration_s',
  'request_rate',
  'output_tokens_per_s',
  'ttft_p50_ms',
  'ttft_p90_ms',
  'ttft_p99_ms',
  'itl_p50_ms',
  'itl_p90_ms',
  'itl_p99_ms',
  'tpot_p50_ms',
  'tpot_p90_ms',
  'e2e_p50_ms',
  'e2e_p90_ms',
  'e2e_p99_ms',
  'hit_rate',
  'hit_rate_bound',
  'load_imbalance',
  'kv_transfer_bytes',
  'slo_attainment',
  'goodput_rps',
] as const;

export type SummaryColumn = (typeof SUMMARY_COLUMNS)[number];

/** A summary as flat columns (null where unknown). */
export function flattenSummary(s: RunSummary): Record<SummaryColumn, number | null> {
  return {
    completed: s.requests.completed,
    failed: s.requests.failed,
    duration_s: s.duration_s,
    request_rate: s.request_rate,
    output_tokens_per_s: s.output_tokens_per_s,
    ttft_p50_ms: s.ttft_ms?.p50 ?? null,
    ttft_p90_ms: s.ttft_ms?.p90 ?? null,
    ttft_p99_ms: s.ttft_ms?.p99 ?? null,
    itl_p50_ms: s.itl_ms?.p50 ?? null,
    itl_p90_ms: s.itl_ms?.p90 ?? null,
    itl_p99_ms: s.itl_ms?.p99 ?? null,
    tpot_p50_ms: s.tpot_ms?.p50 ?? null,
    tpot_p90_ms: s.tpot_ms?.p90 ?? null,
    e2e_p50_ms: s.e2e_ms?.p50 ?? null,
    e2e_p90_ms: s.e2e_ms?.p90 ?? null,
    e2e_p99_ms: s.e2e_ms?.p99 ?? null,
    hit_rate: s.prefix_cache.hit_rate,
    hit_rate_bound: s.prefix_cache.upper_bound,
    load_imbalance: s.load_imbalance,
    kv_transfer_bytes: s.kv_transfer_bytes,
    slo_attainment: s.slo.attainment,
    goodput_rps: s.slo.goodput_rps,
  };
}

/** CSV (RFC 4180): a header row, then one row per sweep point; unknown figures are empty. */
export function sweepToCsv(rows: readonly SweepRow[]): string {
  const labelKeys = [...new Set(rows.flatMap((row) => Object.keys(row.labels)))];
  const header = [...labelKeys, ...SUMMARY_COLUMNS];
  const lines = [header.map(csvCell).join(',')];
  for (const row of rows) {
    const flat = flattenSummary(row.summary);
    lines.push(
      [...labelKeys.map((key) => row.labels[key] ?? null), ...SUMMARY_COLUMNS.map((key) => flat[key])]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text =
    typeof value === 'number' ? String(Number.isInteger(value) ? value : Number(value.toPrecision(8))) : value;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** An aligned text table, one row per sweep point, with the columns people read first. */
export function formatSweepTable(rows: readonly SweepRow[]): string {
  const labelKeys = [...new Set(rows.flatMap((row) => Object.keys(row.labels)))];
  const header = [
    ...labelKeys,
    'done',
    'fail',
    'req/s',
    'out tok/s',
    'TTFT p50',
    'TTFT p90',
    'TTFT p99',
    'ITL p50',
    'ITL p90',
    'hit',
    'bound',
    'goodput',
  ];
  const body = rows.map((row) => {
    const f = flattenSummary(row.summary);
    return [
      ...labelKeys.map((key) => String(row.labels[key] ?? '-')),
      String(f.completed),
      String(f.failed),
      fixed(f.request_rate, 2),
      fixed(f.output_tokens_per_s, 0),
      ms(f.ttft_p50_ms),
      ms(f.ttft_p90_ms),
      ms(f.ttft_p99_ms),
      ms(f.itl_p50_ms),
      ms(f.itl_p90_ms),
      percent(f.hit_rate),
      percent(f.hit_rate_bound),
      fixed(f.goodput_rps, 2),
    ];
  });
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i < labelKeys.length ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(header), ...body.map(line)].join('\n');
}

/** Milliseconds with sensible precision: 0.123, 12.3, 1234, or "-" when unknown. */
export function ms(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '-';
  if (value >= 1000) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(value >= 1 ? 2 : 3);
}

export function percent(value: number | null): string {
  return value === null ? '-' : `${(value * 100).toFixed(1)}%`;
}

function fixed(value: number | null, digits: number): string {
  return value === null ? '-' : value.toFixed(digits);
}

function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = value;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${v.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
