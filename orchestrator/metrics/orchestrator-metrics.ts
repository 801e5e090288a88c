import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
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
  observeInterTokenLatency(mode: ModeLabel, seconds: number): void;
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
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const tokenBuckets = oneTwoFiveBuckets(options.maxModelLen ?? 32768);

  const requests = new Counter({
    name: N.requests,
    help: 'Requests by outcome and serving mode.',
    labelNames: ['outcome', 'mode'] as const,
    registers,
  });
  const ttft = new Histogram({
    name: N.timeToFirstToken,
    help: 'Seconds from request arrival to the first token.',
    labelNames: ['mode'] as const,
    buckets: TTFT_BUCKETS_S,
    registers,
  });
  const itl = new Histogram({
    name: N.interTokenLatency,
    help: 'Seconds between consecutive token events of one stream.',
    labelNames: ['mode'] as const,
    buckets: ITL_BUCKETS_S,
    registers,
  });
  const e2e = new Histogram({
    name: N.e2eLatency,
    help: 'Seconds from request arrival to its last byte.',
    buckets: E2E_BUCKETS_S,
    registers,
  });
  const promptTokens = new Counter({ name: N.promptTokens, help: 'Prompt tokens of finished requests.', registers });
  const cachedPromptTokens = new Counter({
    name: N.cachedPromptTokens,
    help: 'Prompt tokens served from a prefix cache.',
    registers,
  });
  const generationTokens = new Counter({ name: N.generationTokens, help: 'Generated tokens.', registers });
  const isl = new Histogram({
    name: N.requestPromptTokens,
    help: 'Prompt tokens per request (ISL).',
    buckets: tokenBuckets,
    registers,
  });
  const osl = new Histogram({
    name: N.requestGenerationTokens,
    help: 'Generated tokens per request (OSL).',
    buckets: tokenBuckets,
    registers,
  });
  const routerDecision = new Histogram({
    name: N.routerDecision,
    help: 'Seconds per routing decision: hashing, index lookup and policy.',
    buckets: ROUTER_DECISION_BUCKETS_S,
    registers,
  });
  const inflight = new Gauge({
    name: N.workerInflightRequests,
    help: 'Requests in flight on the worker, as booked by the router.',
    labelNames: ['worker', 'role'] as const,
    registers,
    aggregator: 'max',
  });
  const queuedPrefill = new Gauge({
    name: N.workerQueuedPrefillTokens,
    help: 'Prompt tokens routed to the worker and not yet prefilled.',
    labelNames: ['worker'] as const,
    registers,
    aggregator: 'max',
  });
  const activeBlocks = new Gauge({
    name: N.workerActiveKvBlocks,
    help: "KV blocks of the worker's running decodes.",
    labelNames: ['worker'] as const,
    registers,
    aggregator: 'max',
  });
  const indexedBlocks = new Gauge({
    name: N.workerIndexedBlocks,
    help: "KV blocks the router's index holds for the worker.",
    labelNames: ['worker'] as const,
    registers,
    aggregator: 'max',
  });
  const healthy = new Gauge({
    name: N.workerHealthy,
    help: '1 when the worker is healthy, else 0.',
    labelNames: ['worker', 'role'] as const,
    registers,
    aggregator: 'min',
  });
  const blockSizeMismatch = new Gauge({
    name: N.workerBlockSizeMismatch,
    help: "1 while the worker's KV block size differs from routing.block_size (not routed to).",
    labelNames: ['worker'] as const,
    registers,
    aggregator: 'max',
  });
  const templateChecks = new Counter({
    name: N.chatTemplateChecks,
    help: "Chat-template self-checks against a worker's /tokenize, by outcome (mismatch: the router's chat token ids differ from the engine's).",
    labelNames: ['worker', 'outcome'] as const,
    registers,
    aggregator: 'max',
  });
  const eventsApplied = new Counter({
    name: N.kvEventsApplied,
    help: 'KV-event batches applied to the index.',
    labelNames: ['worker'] as const,
    registers,
  });
  const eventGaps = new Counter({
    name: N.kvEventGaps,
    help: 'KV-event sequence gaps seen (each triggers a replay).',
    labelNames: ['worker'] as const,
    registers,
  });
  const transferBlocks = new Counter({
    name: N.kvTransferBlocks,
    help: 'KV blocks pulled by decode workers in disaggregated requests.',
    registers,
  });
  const transferBytes = new Counter({
    name: N.kvTransferBytes,
    help: 'KV bytes pulled by decode workers in disaggregated requests.',
    registers,
  });
  const queueDepth = new Gauge({ name: N.queueDepth, help: 'Requests waiting in the admission queue.', registers });
  const eventLoopLag = new Gauge({
    name: N.eventLoopLag,
    help: "The orchestrator's event-loop delay, mean over the last 500 ms window, seconds.",
    registers,
    aggregator: 'max',
  });
  const loadShed = new Counter({
    name: N.loadShed,
    help: "Generation requests refused (503) because the orchestrator's own event loop lagged.",
    registers,
  });
  const clientWriteTimeouts = new Counter({
    name: N.clientWriteTimeouts,
    help: 'Responses ended because the client stopped reading (socket destroyed).',
    registers,
  });
  const syncConnected = new Gauge({
    name: N.replicaSyncConnected,
    help: 'Replica sync: 1 while booking deltas flow over the transport.',
    labelNames: ['transport'] as const,
    registers,
    aggregator: 'min',
  });
  const syncMessages = new Counter({
    name: N.replicaSyncMessages,
    help: 'Replica-sync messages sent and received.',
    labelNames: ['direction', 'transport'] as const,
    registers,
  });
  const syncPeers = new Gauge({
    name: N.replicaSyncPeers,
    help: 'Other serving processes and replicas heard from recently.',
    registers,
    aggregator: 'max',
  });
  const syncRemote = new Gauge({
    name: N.replicaSyncRemoteBookings,
    help: "Other processes' and replicas' bookings applied here.",
    registers,
    aggregator: 'max',
  });
  let aggregate: (() => Promise<Registry>) | undefined;
  const view = () => (aggregate ? aggregate() : Promise.resolve(registry));
  let statusSource: () => readonly WorkerStatusSample[] = () => [];
  /** A gauge filled from the status source at scrape time; workers that did not report `pick` have no series. */
  const statusGauge = (name: string, help: string, pick: (sample: WorkerStatusSample) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['worker', 'role'] as const,
      registers,
      aggregator: 'max',
      collect() {
        this.reset();
        for (const sample of statusSource()) {
          const value = pick(sample);
          if (value !== null) this.set({ worker: sample.worker, role: sample.role }, value);
        }
      },
    });
  statusGauge(
    N.workerRunningRequests,
    'Requests running on the worker, as it last reported.',
    (s) => s.runningRequests,
  );
  statusGauge(
    N.workerWaitingRequests,
    "Requests waiting in the worker's own queue, as it last reported.",
    (s) => s.waitingRequests,
  );
  statusGauge(
    N.workerKvUsage,
    "Share of the worker's KV blocks held by running requests (0-1), as it last reported.",
    (s) => s.kvUsage,
  );

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
    countRequest: (outcome, mode) => requests.inc({ outcome, mode }),
    observeTimeToFirstToken: (mode, seconds) => ttft.observe({ mode }, seconds),
    observeInterTokenLatency: (mode, seconds) => itl.observe({ mode }, seconds),
    observeE2eLatency: (seconds) => e2e.observe(seconds),
    recordRequestTokens(tokens) {
      promptTokens.inc(tokens.promptTokens);
      cachedPromptTokens.inc(tokens.cachedPromptTokens);
      generationTokens.inc(tokens.generationTokens);
      isl.observe(tokens.promptTokens);
      osl.observe(tokens.generationTokens);
    },
    setQueueDepth: (n) => queueDepth.set(n),
    setEventLoopLag: (seconds) => eventLoopLag.set(seconds),
    countLoadShed: () => loadShed.inc(),
    countClientWriteTimeout: () => clientWriteTimeouts.inc(),
    observeRouterDecision: (seconds) => routerDecision.observe(seconds),
    setWorkerLoad(worker, role, load) {
      noteRole(worker, role);
      inflight.set({ worker, role }, load.inflightRequests);
      queuedPrefill.set({ worker }, load.queuedPrefillTokens);
      activeBlocks.set({ worker }, load.activeKvBlocks);
    },
    setWorkerIndexedBlocks: (worker, blocks) => indexedBlocks.set({ worker }, blocks),
    setWorkerHealthy(worker, role, isHealthy) {
      noteRole(worker, role);
      healthy.set({ worker, role }, isHealthy ? 1 : 0);
    },
    setWorkerBlockSizeMismatch: (worker, mismatch) => blockSizeMismatch.set({ worker }, mismatch ? 1 : 0),
    countChatTemplateCheck: (worker, outcome) => templateChecks.inc({ worker, outcome }),
    countKvEventBatches: (worker, batches = 1) => {
      eventsApplied.inc({ worker }, batches);
      // The gap counter exists (at 0) from the worker's first batch on, so increase() reads 0, not "no data".
      eventGaps.inc({ worker }, 0);
    },
    countKvEventGap: (worker) => eventGaps.inc({ worker }),
    countKvTransfer(blocks, bytes) {
      transferBlocks.inc(blocks);
      transferBytes.inc(bytes);
    },
    removeWorker(worker) {
      for (const role of rolesByWorker.get(worker) ?? []) {
        inflight.remove({ worker, role });
        healthy.remove({ worker, role });
      }
      rolesByWorker.delete(worker);
      for (const gauge of [queuedPrefill, activeBlocks, indexedBlocks, blockSizeMismatch]) gauge.remove({ worker });
      for (const counter of [eventsApplied, eventGaps]) counter.remove({ worker });
    },
    readWorkerStatusFrom(source) {
      statusSource = source;
    },
    setReplicaSyncConnected: (transport, connected) => syncConnected.set({ transport }, connected ? 1 : 0),
    countReplicaSyncMessages: (direction, transport) => syncMessages.inc({ direction, transport }),
    setReplicaSyncPeers(peers, remoteBookings) {
      syncPeers.set(peers);
      syncRemote.set(remoteBookings);
    },
  };
}
