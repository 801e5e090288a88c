import type { Config } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import { engineProfile } from '../../common/profiles/index.ts';

/**
 * One simulated run: a fleet, a workload at one load point, and what the simulator models
 * between components. Latencies are the simulated network and event path, not the engines'
 * compute (the engines price that with the roofline). Milliseconds unless named.
 */
export interface SimOptions {
  readonly workload: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly seed: string;
  /** Mean arrival rate, requests/s (the workload's `rate`); null keeps the workload's own. */
  readonly qps: number | null;
  /** Seconds during which requests are issued; the run then drains what is in flight. */
  readonly durationS: number;
  /** Worker count (with the planner: the most it may run, and the GPU budget / tp). */
  readonly workers: number;
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  /** Prefill-only workers (the rest decode); 0 runs every worker as `both` (aggregated fleet). */
  readonly prefillWorkers: number;
  /** Decode workers at the start (default: workers - prefillWorkers); fewer leaves room for the planner to grow. */
  readonly decodeWorkers?: number | undefined;
  /** The whole Tandem config (routing, disaggregation, planner, orchestrator timeout), already overridden by flags. */
  readonly config: Readonly<Config>;
  readonly planner: boolean;
  readonly latency: SimLatencies;
  /**
   * Status reports carry the engine's queued prefill tokens (true, as gRPC workers' GetStatus
   * does), or not (false, as vLLM servers' metrics: the load book keeps its own bookings).
   * The engine counts a queued prompt whole, before any prefix-cache hit. Default true.
   */
  readonly reportQueuedPrefill?: boolean | undefined;
  /** Goodput targets, ms. */
  readonly slo: { readonly ttftMs: number; readonly itlMs: number };
  /** Optional hooks for tests: called at every status tick with the fleet's figures. */
  readonly probe?: ((sample: ProbeSample) => void) | undefined;
  /**
   * Router replicas (default one router): `count` orchestrator replicas over the one fleet,
   * requests spread over them at random as a Kubernetes Service does; `sync` shares their
   * bookings (orchestrator/replica-sync) with a one-way delay of `syncMs`.
   */
  readonly replicas?: { readonly count: number; readonly sync: boolean; readonly syncMs: number } | undefined;
}

export interface SimLatencies {
  /** Orchestrator to worker: a request, a handoff, a release, ms. */
  readonly dispatchMs: number;
  /** Worker to client: every streamed token (and the prefill's result to the orchestrator), ms. */
  readonly tokenMs: number;
  /** A KV-event batch from the engine to the router's index (ZMQ + decode), ms. */
  readonly kvEventMs: number;
  /** How often each worker's status (GetStatus) is polled, and how long the answer takes, ms. */
  readonly statusIntervalMs: number;
  readonly statusMs: number;
  /** Seconds a worker the planner adds takes to start (image pull, weights load, warm-up). */
  readonly startupS: number;
}

/** Defaults: a fast datacentre network (sub-ms RPCs rounded up) and a 1 s status poll. */
export const DEFAULT_LATENCIES: SimLatencies = {
  dispatchMs: 1,
  tokenMs: 1,
  kvEventMs: 5,
  statusIntervalMs: 1000,
  statusMs: 2,
  startupS: 60,
};

/** What a probe sees at each status tick (tests check invariants with it). */
export interface ProbeSample {
  readonly atMs: number;
  readonly loads: readonly {
    readonly worker: string;
    readonly inflightRequests: number;
    readonly queuedPrefillTokens: number;
    readonly activeDecodeBlocks: number;
  }[];
  readonly inFlight: number;
}

const bad = (message: string, param?: string) => new TandemError('invalid_request', message, param ? { param } : {});

/** Checks a run's options; throws TandemError(invalid_request) naming the flag at fault. */
export function checkSimOptions(options: SimOptions): void {
  if (!Number.isInteger(options.workers) || options.workers < 1)
    throw bad(`--workers must be a positive integer, got ${options.workers}`, 'workers');
  if (!(options.durationS > 0)) throw bad(`--duration must be positive seconds, got ${options.durationS}`, 'duration');
  if (options.qps !== null && !(options.qps > 0)) throw bad(`--qps must be positive, got ${options.qps}`, 'qps');
  engineProfile(options.gpu, options.model, options.tp);
  const mode = options.config.disaggregation.mode;
  const p = options.prefillWorkers;
  if (!Number.isInteger(p) || p < 0 || p >= options.workers)
    throw bad(
      `--prefill-workers must be an integer in [0, ${options.workers - 1}] (some workers must decode), got ${p}`,
      'prefill-workers',
    );
  const d = options.decodeWorkers;
  if (d !== undefined && (!Number.isInteger(d) || d < 1 || p + d > options.workers))
    throw bad(
      `--decode-workers must be an integer in [1, ${options.workers - p}] (with ${p} prefill workers of at most ${options.workers}), got ${d}`,
      'decode-workers',
    );
  if (d !== undefined && p === 0)
    throw bad('--decode-workers needs --prefill-workers (an aggregated fleet has no decode pool)', 'decode-workers');
  if (mode === 'never' && p > 0)
    throw bad(
      `--disaggregation never would leave the ${p} prefill workers idle: drop --prefill-workers`,
      'prefill-workers',
    );
  if (mode !== 'never' && p === 0)
    throw bad(
      `--disaggregation ${mode} needs a prefill pool: give --prefill-workers P (1 <= P < --workers)`,
      'prefill-workers',
    );
  if (options.planner && mode === 'never')
    throw bad('--planner on sizes prefill and decode pools: use --disaggregation auto or always', 'planner');
  for (const [name, value] of Object.entries(options.latency)) {
    if (!(value >= 0) || !Number.isFinite(value))
      throw bad(`latency ${name} must be a non-negative number, got ${value}`, name);
  }
  if (!(options.latency.statusIntervalMs > 0)) throw bad('the status interval must be positive', 'statusIntervalMs');
  const r = options.replicas;
  if (r !== undefined) {
    if (!Number.isInteger(r.count) || r.count < 1 || r.count > 64)
      throw bad(`--replicas must be an integer from 1 to 64, got ${r.count}`, 'replicas');
    if (!(r.syncMs >= 0) || !Number.isFinite(r.syncMs))
      throw bad(`--sync-ms must be a non-negative number, got ${r.syncMs}`, 'sync-ms');
    if (r.count > 1 && options.planner)
      throw bad('--replicas above 1 runs without the planner (it feeds one dispatcher): use --planner off', 'replicas');
  }
}
