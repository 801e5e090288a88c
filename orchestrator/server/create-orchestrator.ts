import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { realClock, type Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import type { BackendSpec, WorkerBackend } from '../backends/index.ts';
import {
  createDiscovery,
  createFleet,
  createTemplateCheck,
  type Fleet,
  type FleetChange,
  type StaticDiscovery,
  type SubscriberFactory,
  type WorkerDiscovery,
} from '../discovery/index.ts';
import { createDispatcher, dispatcherSettingsFromConfig, type Dispatcher } from '../dispatch/index.ts';
import { createPlannerFeed } from '../planner-feed/index.ts';
import { closeFrontend, createFrontend, trackOpenResponses } from '../frontend/index.ts';
import { createOrchestratorMetrics, type OrchestratorMetrics } from '../metrics/index.ts';
import type { KvIndex } from '../kv-index/index.ts';
import type { LoadBook } from '../load/index.ts';
import { createNatsTransport, createReplicaSync, type ReplicaSync, type SyncTransport } from '../replica-sync/index.ts';
import { createRoutingCore, type RoutingCore } from '../routing/index.ts';
import { loadModelTokenizer, type ModelTokenizer } from '../../common/tokenizer/index.ts';
import { createUiFeed, loadUiAssets, statusSamples, workerRows, type UiFeed } from '../ui/index.ts';

export interface OrchestratorDeps {
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Skips loading `orchestrator.tokenizer` (tests share one). */
  readonly tokenizer?: ModelTokenizer;
  readonly metrics?: OrchestratorMetrics;
  /** Test seams: how worker backends and KV-event subscribers are made. */
  readonly createBackend?: (kind: string, spec: BackendSpec) => WorkerBackend;
  readonly createSubscriber?: SubscriberFactory;
  /** Turn interval of the admission queue, ms (default 250). */
  readonly queuePollMs?: number;
  /**
   * Set when this is one of several serving processes (orchestrator.processes > 1, see
   * cluster-primary.ts): its name, its machine's group, the IPC channel to its siblings and where
   * the aggregated metrics come from.
   */
  readonly cluster?: {
    readonly origin: string;
    readonly group: string;
    readonly transport: SyncTransport;
    readonly aggregate: () => Promise<Registry>;
  };
}

export interface Orchestrator {
  readonly app: FastifyInstance;
  readonly dispatcher: Dispatcher;
  readonly fleet: Fleet;
  readonly routing: RoutingCore;
  readonly metrics: OrchestratorMetrics;
  /** Static (the `workers:` list) or kubernetes (pods by label selector), per `discovery.kind`. */
  readonly discovery: WorkerDiscovery;
  readonly logger: Logger;
  /** Booking sync with sibling processes (IPC) and replicas (NATS); undefined for a lone process without NATS. */
  readonly sync: ReplicaSync | undefined;
  /** The status page's feed (/ui/events), or undefined when ui.enabled is false. */
  readonly ui: UiFeed | undefined;
  /** Binds `orchestrator.host:port` (port 0 picks a free one) and returns where it listens. */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /**
   * Applies a re-read config (SIGHUP): with static discovery the `workers` list takes effect
   * (added, removed and changed workers; running requests on the others are untouched). Changes to other sections
   * need a restart: they are named in `ignored` and logged.
   */
  reload(next: Readonly<Config>): { workers: FleetChange | null; ignored: string[] };
  /**
   * Graceful stop: readiness goes false and new or queued requests get 503; running requests
   * get `graceMs` (default orchestrator.shutdown_grace_s) to finish; then the server closes
   * (cancelling what is left), and KV-event subscribers and worker connections close.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Assembles a whole orchestrator from the typed config: routing core (index, load book,
 * policy), fleet (static discovery, health, KV-event feeds), dispatcher (the ServingCore), and
 * the OpenAI frontend in front of it. Nothing listens until `listen()`.
 */
export async function createOrchestrator(config: Readonly<Config>, deps: OrchestratorDeps = {}): Promise<Orchestrator> {
  const clock = deps.clock ?? realClock;
  const logger =
    deps.logger ?? createLogger({ name: 'orchestrator', level: config.log.level, format: config.log.format });
  const o = config.orchestrator;
  const metrics = deps.metrics ?? createOrchestratorMetrics({ maxModelLen: o.max_model_len, processMetrics: true });
  if (deps.cluster) metrics.aggregateFrom(deps.cluster.aggregate);
  // Bookings are shared when there is anyone to share them with: sibling processes, NATS replicas.
  const origin = deps.cluster?.origin ?? `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const rs = o.replica_sync;
  const transports: SyncTransport[] = [];
  if (deps.cluster) transports.push(deps.cluster.transport);
  if (rs.nats_url !== undefined)
    transports.push(
      createNatsTransport({
        url: rs.nats_url,
        subject: rs.subject,
        reconnectWaitMs: rs.reconnect_wait_s * 1000,
        logger,
        name: origin,
      }),
    );
  let sync: ReplicaSync | undefined;
  const routing = createRoutingCore(config.routing, {
    clock,
    logger,
    ...(transports.length === 0
      ? {}
      : {
          wrap: (parts: { index: KvIndex; load: LoadBook }) =>
            (sync = createReplicaSync({
              ...parts,
              origin,
              group: deps.cluster?.group ?? origin,
              transports,
              clock,
              logger,
              metrics,
              heartbeatMs: rs.heartbeat_s * 1000,
              peerTimeoutMs: rs.peer_timeout_s * 1000,
            })),
        }),
  });
  const tokenizer = deps.tokenizer ?? (await loadModelTokenizer(o.tokenizer));

  // Each vllm-http worker that joins is asked to tokenize a probe chat: a loud log line and a metric if its ids differ from the router's.
  const templateCheck = createTemplateCheck({ tokenizer, logger, metrics, clock });
  const fleet = createFleet({
    routing,
    blockSize: config.routing.block_size,
    indexMode: config.routing.index_mode,
    health: {
      intervalMs: o.health.interval_s * 1000,
      timeoutMs: o.health.timeout_s * 1000,
      failureThreshold: o.health.failure_threshold,
      successThreshold: o.health.success_threshold,
    },
    metrics,
    logger,
    clock,
    ...(deps.createBackend ? { createBackend: deps.createBackend } : {}),
    ...(deps.createSubscriber ? { createSubscriber: deps.createSubscriber } : {}),
    onWorkerAdded: (spec) => templateCheck.start(spec),
  });
  const settings = dispatcherSettingsFromConfig(config);
  const dispatcher = createDispatcher({
    fleet,
    routing,
    metrics,
    logger,
    clock,
    models: [o.model],
    ...settings,
    queue: { ...settings.queue, ...(deps.queuePollMs === undefined ? {} : { pollMs: deps.queuePollMs }) },
  });
  // The workers' own figures (running, waiting, KV usage) for /metrics and the status page.
  const rows = () => workerRows(fleet.snapshot());
  metrics.readWorkerStatusFrom(() => statusSamples(rows()));
  // The one reader of the planner's /decision: the status page shows it, and (follow_planner)
  // its threshold retunes the `auto` disaggregation threshold live.
  const d = config.disaggregation;
  const plannerFeed = createPlannerFeed({
    url: o.planner_url,
    pollMs: o.planner_poll_s * 1000,
    clock,
    logger,
    ...(d.follow_planner ? { onThreshold: (tokens: number) => dispatcher.setThresholdTokens(tokens) } : {}),
  });
  const ui = config.ui.enabled
    ? createUiFeed({
        clock,
        logger,
        registry: () => metrics.view(),
        rows,
        readiness: () => dispatcher.readiness(),
        model: o.model,
        planner: plannerFeed,
        intervalMs: config.ui.interval_s * 1000,
        windowMs: config.ui.window_s * 1000,
        historyPoints: config.ui.history_points,
      })
    : undefined;
  // One queue: the dispatcher's (it knows which workers have room). The frontend keeps only
  // its in-flight bound, refusing at once (429) past it.
  const frontendConfig = { ...o, admission: { ...o.admission, max_queued: 0 } };
  const app = createFrontend({
    core: dispatcher,
    tokenizer,
    config: frontendConfig,
    logger,
    metrics,
    clock,
    ...(ui ? { ui: { feed: ui, assets: loadUiAssets(), maxClients: config.ui.max_clients } } : {}),
  });
  // HTTP responses still being written: a request the dispatcher has finished may not have sent
  // its last bytes yet, and shutdown must not cut it off.
  const openResponses = trackOpenResponses(app.server);
  // Who else shares this process's bookings (sibling processes, replicas), with their bookings here.
  app.get('/debug/replicas', async () => ({
    origin,
    group: deps.cluster?.group ?? origin,
    transports: transports.map((t) => ({ name: t.name, connected: t.connected })),
    peers: sync?.peers() ?? [],
  }));

  const discovery = createDiscovery(config, { logger, clock, registry: metrics.registry });
  let lastChange: FleetChange | null = null;
  await discovery.start((workers) => {
    lastChange = fleet.apply(workers);
  });
  logger.info(
    {
      policy: config.routing.policy,
      index: config.routing.index_mode,
      blockSize: config.routing.block_size,
      workers: config.workers.length,
      disaggregation: d.mode,
      thresholdTokens: d.threshold_tokens,
      planner: o.planner_url ?? null,
      followPlanner: d.follow_planner,
    },
    'orchestrator assembled',
  );

  let current = config;
  let stopping: Promise<void> | undefined;

  return {
    app,
    dispatcher,
    fleet,
    routing,
    metrics,
    discovery,
    logger,
    sync,
    ui,

    async listen() {
      await app.listen({ host: o.host, port: o.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : o.port;
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      return { host: o.host, port, url: `http://${host}:${port}` };
    },

    reload(next) {
      const ignored = (Object.keys(next) as (keyof Config)[]).filter(
        (section) => section !== 'workers' && JSON.stringify(next[section]) !== JSON.stringify(current[section]),
      );
      if (ignored.length > 0)
        logger.warn(
          { sections: ignored },
          `config reloaded: changes to ${ignored.join(', ')} need a restart and were not applied`,
        );
      lastChange = null;
      if (discovery.kind === 'static') (discovery as StaticDiscovery).update(next.workers);
      else if (JSON.stringify(next.workers) !== JSON.stringify(current.workers))
        logger.warn(`config reloaded: workers come from ${discovery.kind} discovery; the workers list is not applied`);
      const change: FleetChange | null = lastChange;
      current = { ...current, workers: next.workers };
      logger.info({ workers: next.workers.length, change }, 'config reloaded');
      return { workers: change, ignored };
    },

    shutdown(graceMs = o.shutdown_grace_s * 1000) {
      stopping ??= (async () => {
        logger.info({ inflight: dispatcher.inflight, graceMs }, 'shutting down: no longer admitting requests');
        plannerFeed.close();
        dispatcher.drain();
        // Status pages stream forever: end them first, so only requests hold the grace period.
        ui?.close();
        let cancelGrace = () => {};
        const grace = new Promise<void>((resolve) => (cancelGrace = clock.setTimer(graceMs, resolve)));
        await Promise.race([dispatcher.idle().then(openResponses.idle), grace]);
        cancelGrace();
        if (dispatcher.inflight > 0)
          logger.warn({ inflight: dispatcher.inflight }, 'grace period over: cancelling the requests still running');
        // Cancelled streams end with an SSE error event, not a silent close.
        await closeFrontend(app, openResponses);
        await sync?.close();
        await discovery.close();
        templateCheck.close();
        await fleet.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
