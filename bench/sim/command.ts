import { writeFileSync } from 'node:fs';
import { loadConfig, type Config } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import { parseParams } from '../live/command.ts';
import { currentCommand, newResultFile, writeResultFile, type ResultRun } from '../report/result-file.ts';
import { formatSummary, formatSweepTable, sweepToCsv, type SweepRow } from '../stats/format.ts';
import { parseSweep } from '../workloads/rate-list.ts';
import { DEFAULT_LATENCIES, type SimLatencies } from './options.ts';
import { runSimulation, type SimResult } from './run-sim.ts';

/** The flags of `tandem simulate`, as commander hands them over (lists as comma-separated text). */
export interface SimulateFlags {
  workload?: string;
  param?: string[];
  policy?: string;
  workers?: string;
  gpu?: string;
  model?: string;
  tp?: string;
  qps?: string;
  duration?: string;
  seed?: string;
  disaggregation?: string;
  prefillWorkers?: string;
  decodeWorkers?: string;
  thresholdTokens?: string;
  planner?: string;
  index?: string;
  json?: boolean;
  csv?: string;
  out?: string;
  experiment?: string;
  title?: string;
  description?: string;
  label?: string;
  config?: string;
  sloTtftMs?: string;
  sloItlMs?: string;
  dispatchMs?: string;
  tokenMs?: string;
  kvEventMs?: string;
  statusIntervalMs?: string;
  startupS?: string;
  quiet?: boolean;
  statusQueuedPrefill?: string;
  byClass?: boolean;
  replicas?: string;
  replicaSync?: string;
  syncMs?: string;
}

/** One point of a sweep: every value that may vary between runs of one command. */
export interface SweepPoint {
  readonly policy: string;
  readonly index: string;
  readonly disaggregation: string;
  readonly prefillWorkers: number;
  readonly qps: number | null;
}

const bad = (message: string, param?: string) => new TandemError('invalid_request', message, param ? { param } : {});

/**
 * `tandem simulate`: runs every point of the sweep (policies x index modes x disaggregation
 * modes x prefill-worker counts x QPS), prints a summary per run (one run) or a table (a sweep),
 * and writes the result file (--out, with the exact command), CSV (--csv) or JSON (--json).
 */
export async function simulate(flags: SimulateFlags): Promise<SimResult[]> {
  if (!flags.workload) throw bad('--workload is required (see `tandem bench workloads`)', 'workload');
  const base = loadConfig({ file: flags.config, env: process.env });
  if (!base.ok) throw base.error;
  const points = sweepPoints(flags, base.value);
  const workers = integer(flags.workers ?? '8', '--workers', 1);
  const gpu = flags.gpu ?? base.value.worker.gpu;
  const model = flags.model ?? base.value.worker.model;
  const tp = integer(flags.tp ?? String(base.value.worker.tp), '--tp', 1);
  const durationS = number(flags.duration ?? '600', '--duration');
  const seed = flags.seed ?? '1';
  const planner = onOff(flags.planner ?? 'off', '--planner');
  const params = parseParams(flags.param ?? []);
  const slo = {
    ttftMs:
      flags.sloTtftMs === undefined ? base.value.planner.slo.ttft_s * 1000 : number(flags.sloTtftMs, '--slo-ttft-ms'),
    itlMs: flags.sloItlMs === undefined ? base.value.planner.slo.itl_s * 1000 : number(flags.sloItlMs, '--slo-itl-ms'),
  };
  const latency: SimLatencies = {
    dispatchMs:
      flags.dispatchMs === undefined ? DEFAULT_LATENCIES.dispatchMs : number(flags.dispatchMs, '--dispatch-ms', 0),
    tokenMs: flags.tokenMs === undefined ? DEFAULT_LATENCIES.tokenMs : number(flags.tokenMs, '--token-ms', 0),
    kvEventMs:
      flags.kvEventMs === undefined ? DEFAULT_LATENCIES.kvEventMs : number(flags.kvEventMs, '--kv-event-ms', 0),
    statusIntervalMs:
      flags.statusIntervalMs === undefined
        ? DEFAULT_LATENCIES.statusIntervalMs
        : number(flags.statusIntervalMs, '--status-interval-ms'),
    statusMs: DEFAULT_LATENCIES.statusMs,
    startupS: flags.startupS === undefined ? DEFAULT_LATENCIES.startupS : number(flags.startupS, '--startup-s', 0),
  };
  const command = currentCommand();
  const labelled = varyingLabels(points);

  const results: SimResult[] = [];
  const runs: ResultRun[] = [];
  const replicas = {
    count: flags.replicas === undefined ? 1 : integer(flags.replicas, '--replicas', 1),
    sync: onOff(flags.replicaSync ?? 'on', '--replica-sync'),
    syncMs: flags.syncMs === undefined ? 1 : number(flags.syncMs, '--sync-ms', 0),
  };
  const rows: SweepRow[] = [];
  for (const [i, point] of points.entries()) {
    const overrides: Record<string, unknown> = {
      'routing.policy': point.policy,
      'routing.index_mode': point.index,
      'disaggregation.mode': point.disaggregation,
      ...(flags.thresholdTokens === undefined
        ? {}
        : { 'disaggregation.threshold_tokens': integer(flags.thresholdTokens, '--threshold-tokens', 0) }),
    };
    const config = loadConfig({ file: flags.config, env: process.env, overrides });
    if (!config.ok) throw config.error;
    if (!flags.quiet && points.length > 1)
      process.stderr.write(`run ${i + 1}/${points.length}: ${describePoint(point)} ... `);
    const result = await runSimulation({
      workload: flags.workload,
      params,
      seed,
      qps: point.qps,
      durationS,
      workers,
      gpu,
      model,
      tp,
      prefillWorkers: point.prefillWorkers,
      decodeWorkers:
        flags.decodeWorkers === undefined ? undefined : integer(flags.decodeWorkers, '--decode-workers', 1),
      config: config.value,
      planner,
      latency,
      slo,
      reportQueuedPrefill: onOff(flags.statusQueuedPrefill ?? 'on', '--status-queued-prefill'),
      replicas,
    });
    if (!flags.quiet && points.length > 1)
      process.stderr.write(
        `${result.stats.simulatedSeconds.toFixed(0)} simulated s in ${result.stats.cpuSeconds.toFixed(1)} CPU s\n`,
      );
    results.push(result);
    const label = flags.label ?? labelled(point);
    runs.push({
      command,
      tool: 'simulate',
      policy: point.policy,
      label: planner ? (label ? `${label}, planner` : 'planner') : label,
      qps: point.qps,
      concurrency: null,
      workload: { name: flags.workload, seed, params: result.params },
      setup: result.setup,
      summary: result.summary,
      ...(result.replicas ? { series: { replicas: [...result.replicas] } } : {}),
    });
    rows.push({ labels: { policy: point.policy, label: label ?? '-', qps: point.qps }, summary: result.summary });
    if (flags.byClass && result.classes) {
      // Each request class as its own run of the same command (the workload's id prefix: short, long, chat...).
      for (const [name, summary] of Object.entries(result.classes)) {
        const classLabel = `${label ?? 'all'}, ${name} requests`;
        runs.push({
          ...runs.at(-1)!,
          label: planner ? `${classLabel}, planner` : classLabel,
          summary,
          series: undefined,
        });
        rows.push({ labels: { policy: point.policy, label: classLabel, qps: point.qps }, summary });
      }
    }
  }

  const file = newResultFile('simulate', { ...flags, workload: flags.workload }, runs);
  if (flags.out) writeResultFile(flags.out, file);
  if (flags.csv) writeFileSync(flags.csv, sweepToCsv(rows));
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(file, null, 2)}\n`);
  } else if (!flags.quiet) {
    if (points.length === 1) {
      const r = results[0]!;
      process.stdout.write(
        `${flags.workload} @ ${describePoint(points[0]!)} on ${workers} x ${gpu} (${model}, tp ${tp})\n${formatSummary(r.summary)}\n`,
      );
      process.stdout.write(
        `simulated ${r.stats.simulatedSeconds.toFixed(1)} s (${r.stats.requests} requests, ${r.stats.engineSteps} engine steps, ${r.stats.disaggregated} disaggregated, ${r.stats.gpuHours.toFixed(2)} GPU-hours) in ${r.stats.cpuSeconds.toFixed(1)} CPU s\n`,
      );
    } else {
      process.stdout.write(`${formatSweepTable(rows)}\n`);
    }
    if (flags.out) process.stdout.write(`wrote ${flags.out}\n`);
  }
  return results;
}

/** Every combination of the list-valued flags, QPS varying fastest. */
export function sweepPoints(flags: SimulateFlags, config: Readonly<Config>): SweepPoint[] {
  const list = (text: string | undefined, fallback: string) =>
    (text ?? fallback)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const policies = list(flags.policy, config.routing.policy);
  const indexes = list(flags.index, config.routing.index_mode);
  const modes = list(
    flags.disaggregation,
    config.disaggregation.mode === 'auto' && flags.prefillWorkers === undefined ? 'never' : config.disaggregation.mode,
  );
  const prefill = list(flags.prefillWorkers, '0').map((p) => integer(p, '--prefill-workers', 0));
  let qps: (number | null)[] = [null];
  if (flags.qps !== undefined) {
    const parsed = parseSweep(flags.qps, '--qps');
    if (!parsed.ok) throw parsed.error;
    qps = parsed.value;
  }
  const points: SweepPoint[] = [];
  for (const policy of policies) {
    for (const index of indexes) {
      for (const disaggregation of modes) {
        for (const prefillWorkers of disaggregation === 'never' ? [0] : prefill) {
          for (const q of qps) points.push({ policy, index, disaggregation, prefillWorkers, qps: q });
        }
      }
    }
  }
  return points;
}

/** A label naming what distinguishes a point from the others of its policy (index, mode, P), or null. */
function varyingLabels(points: readonly SweepPoint[]): (point: SweepPoint) => string | null {
  const varies = (key: keyof SweepPoint) => new Set(points.map((p) => p[key])).size > 1;
  const index = varies('index');
  const mode = varies('disaggregation') || points.some((p) => p.disaggregation !== 'never');
  const prefill = varies('prefillWorkers');
  return (point) => {
    const parts: string[] = [];
    if (index) parts.push(point.index);
    if (mode) parts.push(point.disaggregation === 'never' ? 'aggregated' : point.disaggregation);
    if (prefill && point.disaggregation !== 'never') parts.push(`${point.prefillWorkers}P`);
    return parts.length > 0 ? parts.join(' ') : null;
  };
}

function describePoint(point: SweepPoint): string {
  const mode =
    point.disaggregation === 'never'
      ? 'aggregated'
      : `${point.disaggregation} with ${point.prefillWorkers} prefill workers`;
  return `${point.policy} (${point.index}), ${mode}, ${point.qps === null ? "the workload's rate" : `${point.qps} req/s`}`;
}

function number(text: string, flag: string, min = Number.MIN_VALUE): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min)
    throw bad(
      `${flag} ${text}: expected a number >= ${min === Number.MIN_VALUE ? '0 (exclusive)' : min}`,
      flag.slice(2),
    );
  return n;
}

function integer(text: string, flag: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw bad(`${flag} ${text}: expected an integer >= ${min}`, flag.slice(2));
  return n;
}

function onOff(text: string, flag: string): boolean {
  if (text === 'on' || text === 'true') return true;
  if (text === 'off' || text === 'false') return false;
  throw bad(`${flag} ${text}: expected on or off`, flag.slice(2));
}
