import { writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { z } from 'zod';
import { fail, ok, TandemError, type Result } from '../../common/errors.ts';
import { readTextFile } from '../../common/read-text-file.ts';
import { runSummarySchema } from '../stats/run-summary.ts';

const kebab = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A point of a time series over a run (planner runs): seconds since the run's start. */
const replicaPoint = z.strictObject({
  t_s: z.number().nonnegative(),
  prefill: z.number().int().nonnegative(),
  decode: z.number().int().nonnegative(),
});

/**
 * One measured run: one workload at one load point against one setup. `command` is the exact
 * command line that produced it (every run of a sweep shares its command).
 */
export const resultRunSchema = z.strictObject({
  command: z.string().min(1),
  /** Which instrument measured it. */
  tool: z.enum(['live', 'simulate']),
  /** Groups runs into one plotted line: the routing policy, when known. */
  policy: z.string().min(1).nullable(),
  /** Free text telling runs of one policy apart (`precise`, `approximate`, `planner`). */
  label: z.string().min(1).nullable(),
  /** Offered load, requests/s (open loop); null in a closed loop. */
  qps: z.number().positive().nullable(),
  /** Requests kept in flight (closed loop), or the cap on them (open loop); null when uncapped. */
  concurrency: z.number().int().positive().nullable(),
  workload: z.strictObject({
    name: z.string().min(1),
    seed: z.string(),
    params: z.record(z.string(), z.unknown()),
  }),
  /** What it ran against: url, model, workers, gpu, disaggregation... (instrument-specific). */
  setup: z.record(z.string(), scalar),
  summary: runSummarySchema,
  series: z
    .strictObject({
      /** Prefill and decode replicas over time, one point per change (or per planner tick). */
      replicas: z.array(replicaPoint).optional(),
    })
    .optional(),
});

/**
 * A result file (`*.json` under bench/results or wherever `--out` points): what `tandem bench
 * report` reads. Files naming the same `experiment` form one report page.
 */
export const resultFileSchema = z.strictObject({
  format: z.literal('tandem-bench-result'),
  version: z.literal(1),
  /** kebab-case; the report page's file name. */
  experiment: z.string().regex(kebab, 'must be kebab-case (a-z, 0-9, -)'),
  title: z.string().min(1).optional(),
  /** Markdown shown under the title: what is compared, and the claim it checks. */
  description: z.string().optional(),
  /** When the file was written (ISO 8601). */
  created_at: z.string().min(1),
  runs: z.array(resultRunSchema).min(1),
});

export type ResultRun = z.output<typeof resultRunSchema>;
export type ResultFile = z.output<typeof resultFileSchema>;
export type ReplicaPoint = z.output<typeof replicaPoint>;

/** Parses a result file's text; errors name the field's path. */
export function parseResultFile(text: string, name = 'result file'): Result<ResultFile> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(new TandemError('invalid_request', `${name}: not valid JSON (${(error as Error).message})`));
  }
  const parsed = resultFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join('.') || '(root)';
    return fail(new TandemError('invalid_request', `${name}: ${path}: ${issue.message}`));
  }
  return ok(parsed.data);
}

export function readResultFile(path: string): Result<ResultFile> {
  const text = readTextFile(path, 'result file');
  return text.ok ? parseResultFile(text.value, path) : text;
}

/** Validates and writes (pretty JSON, trailing newline). Throws TandemError on an invalid file. */
export function writeResultFile(path: string, file: ResultFile): void {
  const checked = resultFileSchema.safeParse(file);
  if (!checked.success)
    throw new TandemError('internal', `refusing to write an invalid result file: ${checked.error.issues[0]?.message}`);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
}

/**
 * The command line that is running, as a reader would type it: `npx tandem` and the arguments,
 * each quoted for a POSIX shell when it needs to be.
 */
export function currentCommand(argv: readonly string[] = process.argv): string {
  return ['npx tandem', ...argv.slice(2).map(shellQuote)].join(' ');
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** What names a result file, from a bench command's flags. */
export interface ResultFileNaming {
  /** Explicit experiment name; default: the --out file's stem in kebab-case, else `<tool>-<workload>`. */
  readonly experiment?: string | undefined;
  readonly out?: string | undefined;
  readonly workload: string;
  readonly title?: string | undefined;
  readonly description?: string | undefined;
}

/** A result file for `runs`, stamped now, named as `naming` says. */
export function newResultFile(tool: ResultRun['tool'], naming: ResultFileNaming, runs: ResultRun[]): ResultFile {
  return {
    format: 'tandem-bench-result',
    version: 1,
    experiment: naming.experiment ?? experimentName(tool, naming.out, naming.workload),
    ...(naming.title ? { title: naming.title } : {}),
    ...(naming.description ? { description: naming.description } : {}),
    created_at: new Date().toISOString(),
    runs,
  };
}

function experimentName(tool: ResultRun['tool'], out: string | undefined, workload: string): string {
  const fallback = `${tool === 'simulate' ? 'sim' : 'live'}-${workload}`;
  const stem = out ? basename(out, extname(out)) : fallback;
  return (
    stem
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || fallback
  );
}
