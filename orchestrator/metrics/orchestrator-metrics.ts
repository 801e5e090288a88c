import { collectDefaultMetrics, Registry } from 'prom-client';
import { declareMetrics, type GaugeRow } from '../../common/metric-table.ts';
import { observeMany } from '../../common/observe-many.ts';
import {
  BODY_REFUSAL_BUCKETS_S,
  E2E_BUCKETS_S,
  ITL_BUCKETS_S,
  oneTwoFiveBuckets,
  ROUTER_DECISION_BUCKETS_S,
  TTFT_BUCKETS_S,
} from './buckets.ts';
import type { WorkerRole } from '../routing/types.ts';
import { ORCHESTRATOR_METRICS as N } from './names.ts';

export type { WorkerRole } from '../routing/types.ts';

/** How a request ended: served, failed, cut off by its client (or timeout), or refused before it ran. */
export type RequestOutcome = 'success' | 'error' | 'cancelled' | 'rejected';
/** The `mode` label; `none` for requests that never reached a routing decision. */
export type ModeLabel = 'aggregated' | 'disaggregated' | 'none';

/** Per-worker load as the router books it. */
export interface WorkerLoadSample {
  readonly inflightRequests: number;
  /** Tokens routed to the worker and not yet prefilled. */
  readonly queuedPrefillTokens: number;
  /** KV blocks held by the worker's running decodes. */
  readonly activeKvBlocks: number;
}

/** One worker (routing tenant) as it last reported itself; fields it did not report are null. */
export interface WorkerStatusSample {
  readonly worker: string;
  readonly role: WorkerRole;
  readonly runningRequests: number | null;
  readonly waitingRequests: number | null;
  /** Share of its KV blocks held by running requests, 0-1. */
  readonly kvUsage: number | null;
}

/**
 * Every metric in ORCHESTRATOR_METRICS, created once in its own registry, behind typed record
 * functions. Times are seconds, counts are tokens, blocks or bytes as named. The frontend records
 * requests, latencies, tokens and the queue; the dispatcher records workers, routing, KV events
 * and transfers.
 */
export interface OrchestratorMetrics {
  readonly registry: Registry;
  /** Content-Type of `render()`'s text. */
  readonly contentType: string;
  /**
   * Prometheus text exposition of every metric: this process's registry, or with several
   * serving processes, every process's series aggregated (see `aggregateFrom`).
   */
  render(): Promise<string>;
  /** The registry `render()` exposes: the local one, or the aggregate over every serving process. */
  view(): Promise<Registry>;
  /** Several serving processes: `view()` and `render()` read the aggregate from `source` (the cluster primary). */
  aggregateFrom(source: () => Promise<Registry>): void;

  countRequest(outcome: RequestOutcome, mode: ModeLabel): void;
  observeTimeToFirstToken(mode: ModeLabel, seconds: number): void;
  /** One stream's gaps between token events, in the order they came (one histogram update per request, not per token). */
  observeInterTokenLatencies(mode: ModeLabel, seconds: readonly number[]): void;
  observeE2eLatency(seconds: number): void;
  /** One finished request's token counts: the counters and the ISL/OSL histograms. */
  recordRequestTokens(tokens: { promptTokens: number; cachedPromptTokens: number; generationTokens: number }): void;
  /** Requests waiting in the admission queue. */
  setQueueDepth(requests: number): void;
  setEventLoopLag(seconds: number): void;
  /** A generation request refused because the orchestrator's event loop lagged. */
  countLoadShed(): void;
  /** A response ended because its client stopped reading. */
  countClientWriteTimeout(): void;
  /** A request refused while its body arrived: seconds from its body's read starting to its answer written. */
  observeBodyRefusal(seconds: number): void;

  observeRouterDecision(seconds: number): void;
  setWorkerLoad(worker: string, role: WorkerRole, load: WorkerLoadSample): void;
  setWorkerIndexedBlocks(worker: string, blocks: number): void;
  setWorkerHealthy(worker: string, role: WorkerRole, healthy: boolean): void;
  /** Flags a worker whose announced block size differs from the router's (never routed to). */
  setWorkerBlockSizeMismatch(worker: string, mismatch: boolean): void;
  /** One chat-template self-check against a worker's /tokenize, and how it came out. */
  countChatTemplateCheck(worker: string, outcome: 'match' | 'mismatch' | 'unavailable'): void;
  countKvEventBatches(worker: string, batches?: number): void;
  countKvEventGap(worker: string): void;
  countKvTransfer(blocks: number, bytes: number): void;
  /** Drops every series labelled with `worker` (it left the fleet). */
  removeWorker(worker: string): void;
  /**
   * Where the workers' self-reported figures (running, waiting, KV usage) are read from, at
   * every scrape: the series always match the current fleet. Until set, they are empty.
   */
  readWorkerStatusFrom(source: () => readonly WorkerStatusSample[]): void;

  setReplicaSyncConnected(transport: string, connected: boolean): void;
  countReplicaSyncMessages(direction: 'sent' | 'received', transport: string): void;
  setReplicaSyncPeers(peers: number, remoteBookings: number): void;
}

export interface OrchestratorMetricsOptions {
  /** Upper end of the ISL/OSL histograms, tokens. */
  maxModelLen?: number;
  /** Also export prom-client's process and Node.js metrics (CPU, memory, event-loop lag). */
  processMetrics?: boolean;
  /** Use this registry instead of a fresh one. */
  registry?: Registry;
}

export function createOrchestratorMetrics(options: OrchestratorMetricsOptions = {}): OrchestratorMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const tokenBuckets = oneTwoFiveBuckets(options.maxModelLen ?? 32768);

  let aggregate: (() => Promise<Registry>) | undefined;
  const view = () => (aggregate ? aggregate() : Promise.resolve(registry));
  let statusSource: () => readonly WorkerStatusSample[] = () => [];
  /** A gauge read from the status source at each scrape; workers that did not report `pick` have no series. */
  const statusGauge = (name: string, help: string, pick: (sample: WorkerStatusSample) => number | null) =>
    ({
      kind: 'gauge',
      name,
      help,
      labels: ['worker', 'role'],
      aggregator: 'max',
      read: () =>
        statusSource().flatMap((sample) => {
          const value = pick(sample);
          return value === null ? [] : [{ labels: { worker: sample.worker, role: sample.role }, value }];
        }),
    }) as const satisfies GaugeRow<'worker' | 'role'>;

  /**
   * Each worker's booked load as last set, by worker then role: the router books on every
   * request's placement, first token and release, so the load gauges read this at each scrape
   * instead of being set (prom-client's labelled set costs about 15 us; a Map write, nothing).
   */
  const loads = new Map<string, Map<WorkerRole, WorkerLoadSample>>();
  /** The latest load of each worker (whatever its role), for the series labelled by worker alone. */
  const latestLoad = new Map<string, WorkerLoadSample>();
  const loadGauge = (name: string, help: string, pick: (load: WorkerLoadSample) => number) =>
    ({
      kind: 'gauge',
      name,
      help,
      labels: ['worker'],
      aggregator: 'max',
      read: () => [...latestLoad].map(([worker, load]) => ({ labels: { worker }, value: pick(load) })),
    }) as const satisfies GaugeRow<'worker'>;

  const m = declareMetrics([registry], {
    requests: {
      kind: 'counter',
      name: N.requests,
      help: 'Requests by outcome and serving mode.',
      labels: ['outcome', 'mode'],
    },
    ttft: {
      kind: 'histogram',
      name: N.timeToFirstToken,
      help: 'Seconds from request arrival to the first token.',
      labels: ['mode'],
      buckets: TTFT_BUCKETS_S,
    },
    itl: {
      kind: 'histogram',
      name: N.interTokenLatency,
      help: 'Seconds between consecutive token events of one stream.',
      labels: ['mode'],
      buckets: ITL_BUCKETS_S,
    },
    e2e: {
      kind: 'histogram',
      name: N.e2eLatency,
      help: 'Seconds from request arrival to its last byte.',
      buckets: E2E_BUCKETS_S,
    },
    promptTokens: { kind: 'counter', name: N.promptTokens, help: 'Prompt tokens of finished requests.' },
    cachedPromptTokens: {
      kind: 'counter',
      name: N.cachedPromptTokens,
      help: 'Prompt tokens served from a prefix cache.',
    },
    generationTokens: { kind: 'counter', name: N.generationTokens, help: 'Generated tokens.' },
    isl: {
      kind: 'histogram',
      name: N.requestPromptTokens,
      help: 'Prompt tokens per request (ISL).',
      buckets: tokenBuckets,
    },
    osl: {
      kind: 'histogram',
      name: N.requestGenerationTokens,
      help: 'Generated tokens per request (OSL).',
      buckets: tokenBuckets,
    },
    routerDecision: {
      kind: 'histogram',
      name: N.routerDecision,
      help: 'Seconds per routing decision: hashing, index lookup and policy.',
      buckets: ROUTER_DECISION_BUCKETS_S,
    },
    inflight: {
      kind: 'gauge',
      name: N.workerInflightRequests,
      help: 'Requests in flight on the worker, as booked by the router.',
      labels: ['worker', 'role'],
      aggregator: 'max',
      read: () =>
        [...loads].flatMap(([worker, byRole]) =>
          [...byRole].map(([role, load]) => ({ labels: { worker, role }, value: load.inflightRequests })),
        ),
    },
    queuedPrefill: loadGauge(
      N.workerQueuedPrefillTokens,
      'Prompt tokens routed to the worker and not yet prefilled.',
      (load) => load.queuedPrefillTokens,
    ),
    activeBlocks: loadGauge(
      N.workerActiveKvBlocks,
      "KV blocks of the worker's running decodes.",
      (load) => load.activeKvBlocks,
    ),
    indexedBlocks: {
      kind: 'gauge',
      name: N.workerIndexedBlocks,
      help: "KV blocks the router's index holds for the worker.",
      labels: ['worker'],
      aggregator: 'max',
    },
    healthy: {
      kind: 'gauge',
      name: N.workerHealthy,
      help: '1 when the worker is healthy, else 0.',
      labels: ['worker', 'role'],
      aggregator: 'min',
    },
    blockSizeMismatch: {
      kind: 'gauge',
      name: N.workerBlockSizeMismatch,
      help: "1 while the worker's KV block size differs from routing.block_size (not routed to).",
      labels: ['worker'],
      aggregator: 'max',
    },
    templateChecks: {
      kind: 'counter',
      name: N.chatTemplateChecks,
      help: "Chat-template self-checks against a worker's /tokenize, by outcome (mismatch: the router's chat token ids differ from the engine's).",
      labels: ['worker', 'outcome'],
      aggregator: 'max',
    },
    eventsApplied: {
      kind: 'counter',
      name: N.kvEventsApplied,
      help: 'KV-event batches applied to the index.',
      labels: ['worker'],
    },
    eventGaps: {
      kind: 'counter',
      name: N.kvEventGaps,
      help: 'KV-event sequence gaps seen (each triggers a replay).',
      labels: ['worker'],
    },
    transferBlocks: {
      kind: 'counter',
      name: N.kvTransferBlocks,
      help: 'KV blocks pulled by decode workers in disaggregated requests.',
    },
    transferBytes: {
      kind: 'counter',
      name: N.kvTransferBytes,
      help: 'KV bytes pulled by decode workers in disaggregated requests.',
    },
    queueDepth: { kind: 'gauge', name: N.queueDepth, help: 'Requests waiting in the admission queue.' },
    eventLoopLag: {
      kind: 'gauge',
      name: N.eventLoopLag,
      help: "The orchestrator's event-loop delay, mean over the last 500 ms window, seconds.",
      aggregator: 'max',
    },
    loadShed: {
      kind: 'counter',
      name: N.loadShed,
      help: "Generation requests refused (503) because the orchestrator's own event loop lagged.",
    },
    clientWriteTimeouts: {
      kind: 'counter',
      name: N.clientWriteTimeouts,
      help: 'Responses ended because the client stopped reading (socket destroyed).',
    },
    bodyRefusal: {
      kind: 'histogram',
      name: N.bodyRefusal,
      help: "Seconds from a refused request's body read starting to its answer written (refused while its body arrived).",
      buckets: BODY_REFUSAL_BUCKETS_S,
    },
    syncConnected: {
      kind: 'gauge',
      name: N.replicaSyncConnected,
      help: 'Replica sync: 1 while booking deltas flow over the transport.',
      labels: ['transport'],
      aggregator: 'min',
    },
    syncMessages: {
      kind: 'counter',
      name: N.replicaSyncMessages,
      help: 'Replica-sync messages sent and received.',
      labels: ['direction', 'transport'],
    },
    syncPeers: {
      kind: 'gauge',
      name: N.replicaSyncPeers,
      help: 'Other serving processes and replicas heard from recently.',
      aggregator: 'max',
    },
    syncRemote: {
      kind: 'gauge',
      name: N.replicaSyncRemoteBookings,
      help: "Other processes' and replicas' bookings applied here.",
      aggregator: 'max',
    },
    running: statusGauge(
      N.workerRunningRequests,
      'Requests running on the worker, as it last reported.',
      (s) => s.runningRequests,
    ),
    waiting: statusGauge(
      N.workerWaitingRequests,
      "Requests waiting in the worker's own queue, as it last reported.",
      (s) => s.waitingRequests,
    ),
    kvUsage: statusGauge(
      N.workerKvUsage,
      "Share of the worker's KV blocks held by running requests (0-1), as it last reported.",
      (s) => s.kvUsage,
    ),
  });

  /** The role each worker's role-labelled series were last set with, so removeWorker can find them. */
  const rolesByWorker = new Map<string, Set<WorkerRole>>();
  const noteRole = (worker: string, role: WorkerRole) => {
    let roles = rolesByWorker.get(worker);
    if (!roles) rolesByWorker.set(worker, (roles = new Set()));
    roles.add(role);
  };

  return {
    registry,
    contentType: registry.contentType,
    render: async () => (await view()).metrics(),
    view,
    aggregateFrom(source) {
      aggregate = source;
    },
    countRequest: (outcome, mode) => m.requests.inc({ outcome, mode }),
    observeTimeToFirstToken: (mode, seconds) => m.ttft.observe({ mode }, seconds),
    observeInterTokenLatencies: (mode, seconds) => observeMany(m.itl, { mode }, seconds),
    observeE2eLatency: (seconds) => m.e2e.observe(seconds),
    recordRequestTokens(tokens) {
      m.promptTokens.inc(tokens.promptTokens);
      m.cachedPromptTokens.inc(tokens.cachedPromptTokens);
      m.generationTokens.inc(tokens.generationTokens);
      m.isl.observe(tokens.promptTokens);
      m.osl.observe(tokens.generationTokens);
    },
    setQueueDepth: (n) => m.queueDepth.set(n),
    setEventLoopLag: (seconds) => m.eventLoopLag.set(seconds),
    countLoadShed: () => m.loadShed.inc(),
    countClientWriteTimeout: () => m.clientWriteTimeouts.inc(),
    observeBodyRefusal: (seconds) => m.bodyRefusal.observe(seconds),
    observeRouterDecision: (seconds) => m.routerDecision.observe(seconds),
    setWorkerLoad(worker, role, load) {
      let byRole = loads.get(worker);
      if (!byRole) loads.set(worker, (byRole = new Map()));
      byRole.set(role, load);
      latestLoad.set(worker, load);
    },
    setWorkerIndexedBlocks: (worker, blocks) => m.indexedBlocks.set({ worker }, blocks),
    setWorkerHealthy(worker, role, isHealthy) {
      noteRole(worker, role);
      m.healthy.set({ worker, role }, isHealthy ? 1 : 0);
    },
    setWorkerBlockSizeMismatch: (worker, mismatch) => m.blockSizeMismatch.set({ worker }, mismatch ? 1 : 0),
    countChatTemplateCheck: (worker, outcome) => m.templateChecks.inc({ worker, outcome }),
    countKvEventBatches: (worker, batches = 1) => {
      m.eventsApplied.inc({ worker }, batches);
      // The gap counter exists (at 0) from the worker's first batch on, so increase() reads 0, not "no data".
      m.eventGaps.inc({ worker }, 0);
    },
    countKvEventGap: (worker) => m.eventGaps.inc({ worker }),
    countKvTransfer(blocks, bytes) {
      m.transferBlocks.inc(blocks);
      m.transferBytes.inc(bytes);
    },
    removeWorker(worker) {
      for (const role of rolesByWorker.get(worker) ?? []) m.healthy.remove({ worker, role });
      rolesByWorker.delete(worker);
      loads.delete(worker);
      latestLoad.delete(worker);
      for (const gauge of [m.indexedBlocks, m.blockSizeMismatch]) gauge.remove({ worker });
      for (const counter of [m.eventsApplied, m.eventGaps]) counter.remove({ worker });
    },
    readWorkerStatusFrom(source) {
      statusSource = source;
    },
    setReplicaSyncConnected: (transport, connected) => m.syncConnected.set({ transport }, connected ? 1 : 0),
    countReplicaSyncMessages: (direction, transport) => m.syncMessages.inc({ direction, transport }),
    setReplicaSyncPeers(peers, remoteBookings) {
      m.syncPeers.set(peers);
      m.syncRemote.set(remoteBookings);
    },
  };
}
