import { createVirtualClock, type Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { createDispatcher, dispatcherSettingsFromConfig } from '../../orchestrator/dispatch/index.ts';
import { createOrchestratorMetrics } from '../../orchestrator/metrics/index.ts';
import { createRoutingCore } from '../../orchestrator/routing/index.ts';
import { createPlanner, plannerOptionsFromConfig, resolvePools } from '../../planner/index.ts';
import { engineOptionsFromConfig } from '../../workers/engine/index.ts';
import type { ReplicaPoint } from '../report/index.ts';
import { createRunRecorder, loadImbalance, type RunSummary } from '../stats/index.ts';
import { createWorkload, getWorkloadDefinition } from '../workloads/index.ts';
import { createClients } from './clients.ts';
import { createSimDispatchFleet } from './dispatch-fleet.ts';
import { createRouterReplicas, spreadOverReplicas } from './replicas.ts';
import { createEngineBackend } from './engine-backend.ts';
import { createSimFleet, type SimWorker } from './fleet.ts';
import { createIntervalStats } from './interval-stats.ts';
import { checkSimOptions, type SimOptions } from './options.ts';
import { createPlannerLoop } from './planner-loop.ts';

export interface SimResult {
  readonly summary: RunSummary;
  /** The workload as run: its defaulted parameters. */
  readonly params: Readonly<Record<string, unknown>>;
  /** Scalars describing the fleet and what the run used (the result file's `setup`). */
  readonly setup: Readonly<Record<string, string | number | boolean | null>>;
  /** Per request class (`short`, `long`, ...: the workload's id prefix) when the workload has several; imbalance and transfer are whole-run figures, left null. */
  readonly classes: Readonly<Record<string, RunSummary>> | null;
  /** Up prefill and decode workers over time (planner runs). */
  readonly replicas: readonly ReplicaPoint[] | null;
  /** What the run cost to simulate and what the fleet did. */
  readonly stats: SimStats;
  /** The load book at the end, per worker still known to it (all zero after a clean run). */
  readonly finalLoads: readonly {
    readonly worker: string;
    readonly inflightRequests: number;
    readonly queuedPrefillTokens: number;
    readonly activeDecodeBlocks: number;
  }[];
}

export interface SimStats {
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
  /** Process CPU time (user + system) the run took: the speed figure on a shared machine. */
  readonly cpuSeconds: number;
  readonly engineSteps: number;
  readonly requests: number;
  readonly disaggregated: number;
  readonly gpuHours: number;
  readonly heldHandoffsAtEnd: number;
  readonly expiredBookings: number;
}

/**
 * Runs one simulated experiment to the end and returns its RunSummary: the real engines, the
 * real dispatcher (orchestrator/dispatch: routing core, disaggregation decision, saturation,
 * admission queue, retries, handoff protocol) and (optionally) planner on one virtual clock.
 * Requests arrive for `durationS`; the run then drains what is in flight (each request is bounded
 * by the orchestrator's request timeout). Deterministic for given options: the workload, the
 * router and the engines are seeded from `seed`, nothing reads the wall clock but the
 * `wallSeconds` figure, and promise continuations run in one order: the loop lets them all run
 * (one macrotask turn) after any timer that may have settled a promise, before the next fires.
 */
export async function runSimulation(options: SimOptions): Promise<SimResult> {
  checkSimOptions(options);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const { config, latency } = options;
  const definition = getWorkloadDefinition(options.workload);
  if (!definition.ok) throw definition.error;
  const hasRate = definition.value.paramDocs.some((p) => p.name === 'rate');
  if (options.qps !== null && !hasRate)
    throw new TandemError('invalid_request', `workload ${options.workload} has no rate to set with --qps`, {
      param: 'qps',
    });
  const workload = createWorkload(
    options.workload,
    options.qps === null ? options.params : { ...options.params, rate: options.qps },
    options.seed,
  );
  if (!workload.ok) throw workload.error;
  const source = workload.value.open();

  const clock = createVirtualClock();
  /** Set when something may have settled a promise: the loop then lets continuations run. */
  let settled = false;
  const onDeliver = () => {
    settled = true;
  };
  /** The dispatcher's view of the clock: its timers (deadlines, queue turns) may settle promises. */
  const dispatchClock: Clock = {
    now: () => clock.now(),
    setTimer: (delayMs, fn) =>
      clock.setTimer(delayMs, () => {
        settled = true;
        fn();
      }),
    sleep: (delayMs, signal) => {
      settled = true;
      return clock.sleep(delayMs, signal);
    },
  };
  const replicaCount = options.replicas?.count ?? 1;
  const replicas =
    replicaCount > 1
      ? createRouterReplicas({
          config,
          clock,
          seed: `sim/${options.seed}`,
          count: replicaCount,
          sync: options.replicas!.sync,
          syncMs: options.replicas!.syncMs,
          onDeliver,
        })
      : null;
  const core = replicas
    ? replicas.cores[0]!
    : createRoutingCore(config.routing, { clock, seed: `sim/${options.seed}` });
  const blockSize = config.routing.block_size;
  const engine = {
    ...engineOptionsFromConfig(config.worker),
    gpu: options.gpu,
    model: options.model,
    tp: options.tp,
    blockSize,
    kvLink: config.disaggregation.kv_link,
    timeScale: 1,
  };
  let plannerLoop: ReturnType<typeof createPlannerLoop> | null = null;
  const reportQueuedPrefill = options.reportQueuedPrefill ?? true;
  let fleetChanged = () => {};
  const fleet = createSimFleet({
    clock,
    index: replicas?.index ?? core.index,
    load: replicas?.load ?? core.load,
    latency,
    engine,
    reportQueuedPrefill,
    gpu: options.gpu,
    model: options.model,
    tp: options.tp,
    onChange: () => {
      plannerLoop?.recordReplicas();
      fleetChanged();
    },
    onReports: () => fleetChanged(),
  });
  const engines = new Map<string, SimWorker['engine']>();
  const dispatchFleet = createSimDispatchFleet(fleet, (worker) => {
    engines.set(worker.engine.info.engineId, worker.engine);
    return createEngineBackend({
      engine: worker.engine,
      clock,
      dispatchMs: latency.dispatchMs,
      link: config.disaggregation.kv_link,
      onDeliver,
      peer: (id) => engines.get(id),
    });
  });
  fleetChanged = () => {
    settled = true;
    dispatchFleet.changed();
  };
  const p = options.prefillWorkers;
  const initial = p === 0 ? options.workers : p + (options.decodeWorkers ?? options.workers - p);
  for (let i = 0; i < initial; i++) fleet.add(p === 0 ? 'both' : i < p ? 'prefill' : 'decode', 0);

  const recorder = createRunRecorder({ slo: options.slo, blockSize });
  const intervals = createIntervalStats(options.slo);
  const dispatchers = (replicas?.cores ?? [core]).map((routing) =>
    createDispatcher({
      fleet: dispatchFleet,
      routing,
      metrics: createOrchestratorMetrics(),
      logger: silentLogger,
      clock: dispatchClock,
      models: [SIM_MODEL],
      ...dispatcherSettingsFromConfig(config),
      stopwatch: () => 0,
    }),
  );
  const dispatcher = dispatchers[0]!;
  const clients = createClients({
    clock,
    serving: dispatchers.length > 1 ? spreadOverReplicas(dispatchers, `sim/${options.seed}`) : dispatcher,
    recorder,
    classRecorder: () => createRunRecorder({ slo: options.slo, blockSize }),
    source,
    intervals,
    tokenMs: latency.tokenMs,
    timeoutMs: config.orchestrator.request_timeout_s * 1000,
    model: SIM_MODEL,
  });

  if (options.planner) {
    const planned = plannerOptionsFromConfig(config);
    if (!planned.ok) throw planned.error;
    const pool = (role: 'prefill' | 'decode') => ({
      name: role,
      role,
      gpu: options.gpu,
      model: options.model,
      tp: options.tp,
      min_replicas: 1,
      max_replicas: options.workers - 1,
    });
    const pools = resolvePools({ pools: [pool('prefill'), pool('decode')] });
    if (!pools.ok) throw pools.error;
    const planner = createPlanner({
      ...planned.value,
      pools: pools.value,
      gpuBudget: options.workers * options.tp,
      blockSize,
    });
    plannerLoop = createPlannerLoop({
      clock,
      fleet,
      load: core.load,
      planner,
      intervals,
      disagg: dispatcher,
      intervalS: config.planner.interval_s,
      startupMs: latency.startupS * 1000,
    });
    plannerLoop.recordReplicas();
  }

  const durationMs = options.durationS * 1000;
  let running = true;
  const every = (periodMs: number, fn: () => void) => {
    const tick = () => {
      if (!running) return;
      fn();
      clock.setTimer(periodMs, tick);
    };
    clock.setTimer(periodMs, tick);
  };
  /** Waiting requests per serving worker, summed over status polls while requests arrive (vLLM's num_requests_waiting). */
  const waiting = { sum: 0, polls: 0 };
  every(latency.statusIntervalMs, () => {
    const statuses = fleet.poll();
    if (clock.now() <= durationMs && statuses.length > 0) {
      waiting.sum += statuses.reduce((sum, status) => sum + status.waitingRequests, 0) / statuses.length;
      waiting.polls++;
    }
    if (options.probe) {
      const now = clock.now();
      options.probe({
        atMs: now,
        inFlight: clients.inFlight,
        loads: fleet.all.filter((w) => w.state !== 'gone').map((w) => ({ worker: w.id, ...core.load.load(w.id, now) })),
      });
    }
  });
  if (plannerLoop) {
    const loop = plannerLoop;
    every(config.planner.interval_s * 1000, () => loop.tick());
  }

  let admitted = 0;
  let drains = 0;
  for (;;) {
    if (settled) {
      settled = false;
      // The first wait is a real event-loop turn, so whatever the caller left queued runs first;
      // the loop then runs inside a promise continuation, where a tick waits for all the others.
      await (drains++ === 0 ? nextEventLoopTurn() : letContinuationsRun());
    }
    const due = source.nextArrivalMs();
    const issuing = due !== undefined && due <= durationMs;
    if (!issuing && clients.inFlight === 0) break;
    const timer = clock.nextTimerAt();
    if (issuing && (timer === undefined || due <= timer)) {
      clock.advanceTo(due);
      clients.admit(source.take()!);
      settled = true;
      admitted++;
      continue;
    }
    if (timer === undefined) break; // nothing in flight can progress: cannot happen with live engines
    clock.advanceTo(timer);
  }
  running = false;
  for (const d of dispatchers) d.drain();

  const now = clock.now();
  const summary = recorder.finish({ kvTransferBytes: fleet.pulledBytes() });
  // Class summaries share the run's duration, so their rates add up to the whole run's.
  const classes = clients.classSummaries({ durationMs: summary.duration_s * 1000 });
  const imbalance = roleImbalance(fleet.all, now);
  let engineSteps = 0;
  let heldHandoffsAtEnd = 0;
  for (const w of fleet.all) {
    const status = w.engine.status();
    engineSteps += status.stepsTotal;
    if (w.state !== 'gone') heldHandoffsAtEnd += status.heldHandoffs;
  }
  const finalLoads = core.load.workers().map((worker) => {
    const l = core.load.load(worker, now);
    return {
      worker,
      inflightRequests: l.booked.inflightRequests,
      queuedPrefillTokens: l.booked.queuedPrefillTokens,
      activeDecodeBlocks: l.booked.activeDecodeBlocks,
    };
  });
  const expiredBookings = core.load.workers().reduce((sum, w) => sum + core.load.load(w, now).expiredBookings, 0);
  const gpuHours = fleet.gpuSeconds() / 3600;
  fleet.close();

  const stats: SimStats = {
    simulatedSeconds: now / 1000,
    wallSeconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSecondsSince(cpuStart),
    engineSteps,
    requests: admitted,
    disaggregated: clients.disaggregated,
    gpuHours,
    heldHandoffsAtEnd,
    expiredBookings,
  };
  const setup = {
    workers: options.workers,
    gpu: options.gpu,
    model: options.model,
    tp: options.tp,
    prefill_workers: p,
    decode_workers: p === 0 ? null : (options.decodeWorkers ?? options.workers - p),
    disaggregation: config.disaggregation.mode,
    threshold_tokens: options.planner
      ? 'planner'
      : config.disaggregation.mode === 'auto'
        ? config.disaggregation.threshold_tokens
        : null,
    index: config.routing.index_mode,
    planner: options.planner,
    kv_link: config.disaggregation.kv_link,
    status_queued_prefill: reportQueuedPrefill,
    block_size: blockSize,
    gpu_hours: round(gpuHours, 4),
    disaggregated_share: admitted > 0 ? round(clients.disaggregated / admitted, 4) : null,
    wait_queue_mean: waiting.polls > 0 ? round(waiting.sum / waiting.polls, 2) : null,
    ...(replicas
      ? {
          router_replicas: replicaCount,
          replica_sync: options.replicas!.sync,
          sync_ms: options.replicas!.syncMs,
          sync_deltas: replicas.deltas(),
        }
      : {}),
  };
  return {
    summary: { ...summary, load_imbalance: imbalance },
    classes,
    params: workload.value.params,
    setup,
    replicas: plannerLoop ? [...plannerLoop.series] : null,
    stats,
    finalLoads,
  };
}

/**
 * Load imbalance as the busiest worker's busy share over the mean, within each role (prefill
 * and decode workers do different work), the worst role reported. Busy share = forward-pass
 * time over the worker's lifetime, so workers the planner added late are judged fairly.
 */
function roleImbalance(workers: readonly SimWorker[], nowMs: number): number | null {
  const byRole = new Map<string, number[]>();
  for (const w of workers) {
    const lifetime = (w.goneAtMs ?? nowMs) - w.createdAtMs;
    if (lifetime <= 0) continue;
    byRole.set(w.role, [...(byRole.get(w.role) ?? []), w.engine.busyMs() / lifetime]);
  }
  let worst: number | null = null;
  for (const shares of byRole.values()) {
    const value = loadImbalance(shares);
    if (value !== null) worst = Math.max(worst ?? 0, value);
  }
  return worst;
}

/** The model name simulated requests carry (the dispatcher checks nothing of it). */
const SIM_MODEL = 'sim';

/** One macrotask turn: every queued promise continuation runs (and those they queue). */
const nextEventLoopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Resolves once every queued promise continuation has run (and those they queue), when called
 * from inside a continuation: Node runs a process.nextTick queued there only after the
 * microtask queue is empty, and this promise's own continuation comes after that. The same
 * order as a macrotask turn (`nextEventLoopTurn`) at a fraction of its cost (no event-loop
 * phase, no poll of the OS), which matters at one wait per engine step. It relies on the
 * simulated code waiting on nothing but promises and the virtual clock (no real timer, no
 * event-loop turn: the engine backend's streams say `coalesced` so the dispatcher does not wait
 * for one); something that did would wait until the run ends.
 */
const letContinuationsRun = () => new Promise<void>((resolve) => process.nextTick(resolve));

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
