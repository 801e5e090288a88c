import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import { currentCommand, newResultFile, writeResultFile } from '../report/result-file.ts';
import { formatSummary, formatSweepTable, sweepToCsv } from '../stats/format.ts';
import { parseSweep } from '../workloads/rate-list.ts';
import { runLive } from './run-live.ts';

/** The flags of `tandem bench live`, as commander hands them over. */
export interface LiveFlags {
  url?: string;
  workload?: string;
  param?: string[];
  concurrency?: string;
  qps?: string;
  requests?: string;
  duration?: string;
  seed?: string;
  model?: string;
  out?: string;
  csv?: string;
  json?: boolean;
  timeout?: string;
  sloTtftMs?: string;
  sloItlMs?: string;
  blockSize?: string;
  policy?: string;
  label?: string;
  experiment?: string;
  title?: string;
  description?: string;
  ignoreEos?: boolean;
  config?: string;
}

const bad = (message: string) => new TandemError('invalid_request', message);

/**
 * `tandem bench live`: validates the flags, runs every load point, prints a summary (or the
 * result file as JSON with --json), and writes the result file (--out) and CSV (--csv).
 * Ctrl-C stops issuing, cancels what is in flight and still writes what was measured.
 */
export async function benchLive(flags: LiveFlags): Promise<void> {
  if (!flags.url) throw bad('--url is required (the orchestrator, e.g. http://127.0.0.1:8000)');
  if (!flags.workload) throw bad('--workload is required (see `tandem bench workloads`)');
  const requests = optionalNumber(flags.requests, '--requests', (n) => Number.isInteger(n) && n >= 1);
  const durationS = optionalNumber(flags.duration, '--duration', (n) => n > 0);
  if (requests === undefined && durationS === undefined && flags.workload !== 'trace')
    throw bad('give --requests N or --duration S (only a trace ends by itself)');
  const qps = flags.qps === undefined ? undefined : unwrap(parseSweep(flags.qps, '--qps'));
  const concurrency =
    flags.concurrency === undefined ? undefined : unwrap(parseSweep(flags.concurrency, '--concurrency'));
  const config = loadConfig({ file: flags.config, env: process.env });
  if (!config.ok) throw config.error;

  const stop = new AbortController();
  const onSignal = () => {
    process.stderr.write('\nstopping: cancelling requests in flight (Ctrl-C again to quit at once)\n');
    process.off('SIGINT', onSignal);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  try {
    const runs = await runLive({
      url: flags.url,
      workload: flags.workload,
      params: parseParams(flags.param ?? []),
      seed: flags.seed ?? '1',
      qps,
      concurrency,
      requests,
      durationS,
      model: flags.model,
      timeoutS: optionalNumber(flags.timeout, '--timeout', (n) => n > 0) ?? 600,
      ignoreEos: flags.ignoreEos !== false,
      apiKey: process.env.TANDEM_API_KEY ?? process.env.OPENAI_API_KEY,
      slo: {
        ttftMs:
          optionalNumber(flags.sloTtftMs, '--slo-ttft-ms', (n) => n > 0) ?? config.value.planner.slo.ttft_s * 1000,
        itlMs: optionalNumber(flags.sloItlMs, '--slo-itl-ms', (n) => n > 0) ?? config.value.planner.slo.itl_s * 1000,
      },
      blockSize:
        optionalNumber(flags.blockSize, '--block-size', (n) => Number.isInteger(n) && n >= 1) ??
        config.value.routing.block_size,
      policy: flags.policy ?? null,
      label: flags.label ?? null,
      command: currentCommand(),
      progress: process.stderr,
      signal: stop.signal,
    });
    if (runs.length === 0) throw new TandemError('cancelled', 'stopped before any run finished');
    const file = newResultFile('live', { ...flags, workload: flags.workload }, runs);
    if (flags.out) writeResultFile(flags.out, file);
    const rows = runs.map((run) => ({ labels: { qps: run.qps, concurrency: run.concurrency }, summary: run.summary }));
    if (flags.csv) writeFileSync(flags.csv, sweepToCsv(rows));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
    } else {
      for (const run of runs) {
        const point =
          run.qps !== null
            ? `${run.qps} req/s`
            : run.concurrency !== null
              ? `concurrency ${run.concurrency}`
              : 'as scheduled';
        process.stdout.write(
          `\n${run.workload.name} @ ${point} against ${run.setup.url} (${run.setup.model}), stopped by ${run.setup.stopped_by}\n${formatSummary(run.summary)}\n`,
        );
      }
      if (runs.length > 1) process.stdout.write(`\n${formatSweepTable(rows)}\n`);
      if (flags.out) process.stdout.write(`\nwrote ${flags.out}\n`);
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** `key=value` flags: numbers and true/false become typed, anything else stays a string. */
export function parseParams(pairs: readonly string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(`-p ${pair}: expected key=value`);
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1).trim();
    params[key] = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)
      ? Number(raw)
      : raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw;
  }
  return params;
}

function optionalNumber(text: string | undefined, flag: string, valid: (n: number) => boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || !valid(n)) throw bad(`${flag} ${text}: not a valid value`);
  return n;
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: TandemError }): T {
  if (!result.ok) throw result.error;
  return result.value;
}
