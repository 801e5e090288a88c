import { availableParallelism, loadavg } from 'node:os';
import { Agent, request, type Dispatcher } from 'undici';
import { createMonotonicClock, type Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import type { ResultRun } from '../report/result-file.ts';
import { createRunRecorder, type SloTargets } from '../stats/recorder.ts';
import type { RunSummary } from '../stats/run-summary.ts';
import { createWorkload } from '../workloads/registry.ts';
import type { RequestSource } from '../workloads/types.ts';
import { streamCompletion, type CompletionTarget } from './completion-request.ts';
import { drive, type StopReason } from './driver.ts';
import { createProgressDisplay } from './progress.ts';

export interface LiveOptions {
  /** The orchestrator (or any OpenAI-compatible server): http://host:port, with or without /v1. */
  readonly url: string;
  readonly workload: string;
  /** Raw workload parameters (`-p key=value`); `rate` is set from each --qps point. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly seed: string;
  /** Open-loop points, requests/s: one run each. */
  readonly qps?: readonly number[] | undefined;
  /** Closed-loop points (without qps), or the in-flight cap of every open-loop point (one value). */
  readonly concurrency?: readonly number[] | undefined;
  /** Requests per point and/or seconds per point (at least one, unless the workload is finite). */
  readonly requests?: number | undefined;
  readonly durationS?: number | undefined;
  /** Served model name; default: the first of GET /v1/models. */
  readonly model?: string | undefined;
  readonly timeoutS: number;
  readonly ignoreEos: boolean;
  readonly apiKey?: string | undefined;
  readonly slo: SloTargets;
  /** The engines' KV block size, for the hit-rate bound. */
  readonly blockSize: number;
  /** Recorded for reports: the routing policy the server runs, and a free label. */
  readonly policy: string | null;
  readonly label: string | null;
  /** The exact command line, stored in every run. */
  readonly command: string;
  /** Where to draw progress (undefined: nowhere). */
  readonly progress?: (NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly clock?: Clock | undefined;
}

interface Point {
  readonly qps: number | null;
  readonly concurrency: number | null;
  readonly respectArrivals: boolean;
}

/**
 * Runs every load point against a live server, one after the other, and returns one ResultRun
 * per point. Fails (throws TandemError) only on bad options or when the model cannot be
 * discovered; failures of individual requests are counted in the summaries.
 */
export async function runLive(options: LiveOptions): Promise<ResultRun[]> {
  const clock = options.clock ?? createMonotonicClock();
  const base = normalizeBase(options.url);
  const points = planPoints(options);
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: Math.min(30_000, options.timeoutS * 1000) },
  });
  try {
    const model = options.model ?? (await discoverModel(base, agent, options.timeoutS * 1000));
    const runs: ResultRun[] = [];
    for (const point of points) {
      if (options.signal?.aborted) break;
      const params = point.qps === null ? { ...options.params } : { ...options.params, rate: point.qps };
      const workload = createWorkload(options.workload, params, options.seed);
      if (!workload.ok) throw workload.error;
      const loadBefore = loadavg()[0]!;
      const { summary, stoppedBy } = await runPoint(options, point, workload.value.open(), {
        base,
        model,
        agent,
        clock,
      });
      runs.push({
        command: options.command,
        tool: 'live',
        policy: options.policy,
        label: options.label,
        qps:
          point.qps ??
          (typeof workload.value.params.rate === 'number' && point.respectArrivals ? workload.value.params.rate : null),
        concurrency: point.concurrency,
        workload: { name: workload.value.name, seed: workload.value.seed, params: { ...workload.value.params } },
        // The client machine's 1-minute load average around the point: a busy client inflates what it measures.
        setup: {
          url: base,
          model,
          timeout_s: options.timeoutS,
          ignore_eos: options.ignoreEos,
          stopped_by: stoppedBy,
          client_cpus: availableParallelism(),
          client_load_before: round2(loadBefore),
          client_load_after: round2(loadavg()[0]!),
        },
        summary,
      });
    }
    return runs;
  } finally {
    await agent.destroy();
  }
}

async function runPoint(
  options: LiveOptions,
  point: Point,
  source: RequestSource,
  server: { base: string; model: string; agent: Dispatcher; clock: Clock },
): Promise<{ summary: RunSummary; stoppedBy: StopReason }> {
  const { clock } = server;
  const recorder = createRunRecorder({ slo: options.slo, blockSize: options.blockSize });
  const what =
    point.qps !== null
      ? `${point.qps} req/s`
      : point.concurrency !== null
        ? `concurrency ${point.concurrency}`
        : 'as scheduled';
  const progress = options.progress
    ? createProgressDisplay({
        stream: options.progress,
        clock,
        label: `${options.workload} @ ${what}`,
        totalRequests: options.requests,
        durationMs: options.durationS === undefined ? undefined : options.durationS * 1000,
      })
    : undefined;
  let inFlight = 0;
  // Redraws between completions too, so the bar and the clock move while requests stream.
  let cancelTick = () => {};
  const tick = () => {
    progress?.update(recorder.totals(), inFlight, recorder.ttftMedianMs());
    cancelTick = clock.setTimer(250, tick);
  };
  if (progress) cancelTick = clock.setTimer(250, tick);
  const target: CompletionTarget = {
    origin: server.base,
    model: server.model,
    dispatcher: server.agent,
    clock,
    timeoutMs: options.timeoutS * 1000,
    ignoreEos: options.ignoreEos,
    apiKey: options.apiKey,
  };
  const result = await drive({
    source,
    clock,
    respectArrivals: point.respectArrivals,
    maxInFlight: point.concurrency ?? Infinity,
    maxRequests: options.requests ?? Infinity,
    durationMs: options.durationS === undefined ? Infinity : options.durationS * 1000,
    ...(options.signal ? { signal: options.signal } : {}),
    send: (item, signal) => {
      inFlight++;
      return streamCompletion(target, item, signal).finally(() => inFlight--);
    },
    onOutcome: (outcome) => {
      recorder.record(outcome);
      progress?.update(recorder.totals(), inFlight, recorder.ttftMedianMs());
    },
  });
  cancelTick();
  progress?.done(recorder.totals(), recorder.ttftMedianMs());
  return { summary: recorder.finish({ durationMs: result.durationMs }), stoppedBy: result.stoppedBy };
}

function planPoints(options: LiveOptions): Point[] {
  const bad = (message: string) => new TandemError('invalid_request', message);
  const concurrency = options.concurrency;
  if (concurrency?.some((c) => !Number.isInteger(c) || c < 1)) throw bad('concurrency must be whole numbers >= 1');
  if (options.qps && options.qps.length > 0) {
    if (concurrency && concurrency.length > 1)
      throw bad('with --qps, --concurrency is one cap on requests in flight, not a list');
    return options.qps.map((qps) => ({ qps, concurrency: concurrency?.[0] ?? null, respectArrivals: true }));
  }
  if (concurrency && concurrency.length > 0)
    return concurrency.map((c) => ({ qps: null, concurrency: c, respectArrivals: false }));
  return [{ qps: null, concurrency: null, respectArrivals: true }];
}

const round2 = (value: number) => Math.round(value * 100) / 100;

/** http://host:port[/prefix], without a trailing slash or /v1. */
export function normalizeBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TandemError('invalid_request', `--url ${url} is not a URL (e.g. http://127.0.0.1:8000)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new TandemError('invalid_request', `--url ${url}: only http and https are supported`);
  const path = parsed.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return `${parsed.origin}${path}`;
}

async function discoverModel(base: string, dispatcher: Dispatcher, timeoutMs: number): Promise<string> {
  try {
    const response = await request(`${base}/v1/models`, {
      dispatcher,
      signal: AbortSignal.timeout(Math.min(timeoutMs, 30_000)),
    });
    const body = (await response.body.json()) as { data?: { id?: string }[] };
    const id = body.data?.[0]?.id;
    if (response.statusCode !== 200 || typeof id !== 'string')
      throw new Error(`GET /v1/models answered ${response.statusCode} without a model`);
    return id;
  } catch (error) {
    throw new TandemError(
      'unavailable',
      `cannot list models at ${base}/v1/models (${(error as Error).message}); is the server up? (or pass --model)`,
      { cause: error },
    );
  }
}
