import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { EngineProfile } from '../../common/profiles/index.ts';
import type { AnnouncedRole, WorkerBackend, WorkerStatusReport } from '../backends/index.ts';
import { tenantId, type KvIndex } from '../kv-index/index.ts';
import type { LoadBook } from '../load/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { WorkerSpec } from './discovery.ts';
import { createHealthTracker, type HealthSnapshot } from './health.ts';
import { createKvFeeds, type FeedSnapshot, type SubscriberFactory } from './kv-feeds.ts';
import { kvEventEndpointsFor, ranksOf } from './worker-endpoints.ts';
import { DEFAULT_PROFILE, type ResolvedProfile, resolveWorkerProfile } from './worker-profile.ts';

/**
 * Where a worker stands for routing. `healthy` is routed to; `ejected` is shown to the router as
 * an unhealthy candidate; the others are not candidates at all: `pending` (no good status yet),
 * `block-size-mismatch` (its KV blocks do not match the router's: a loud error, never silent
 * misses), `retiring` (removed from the fleet, finishing its requests).
 */
export type WorkerState = 'pending' | 'healthy' | 'ejected' | 'block-size-mismatch' | 'retiring';

export interface WorkerHandleOptions {
  readonly spec: WorkerSpec;
  readonly backend: WorkerBackend;
  /** routing.block_size: what every worker's KV blocks must hold, tokens. */
  readonly expectedBlockSize: number;
  /** Subscribe to KV events only in precise mode. */
  readonly subscribeToEvents: boolean;
  readonly health: {
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly failureThreshold: number;
    readonly successThreshold: number;
  };
  readonly index: KvIndex;
  readonly load: LoadBook;
  readonly metrics: OrchestratorMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly createSubscriber?: SubscriberFactory | undefined;
  /** Called after every status poll and state change (candidates and capacity may differ). */
  readonly onChange: () => void;
}

export interface WorkerHandle {
  readonly name: string;
  readonly spec: WorkerSpec;
  readonly backend: WorkerBackend;
  readonly state: WorkerState;
  readonly role: AnnouncedRole;
  readonly profile: EngineProfile;
  /** Routing tenants, one per data-parallel rank: `name` for rank 0, `name@rank` for the others. */
  readonly tenants: readonly { readonly tenant: string; readonly dpRank: number }[];
  /** The model name to send (vLLM's served name), when the worker told. */
  readonly servedModel: string | undefined;
  /** Requests running on this worker now (leases taken and not returned). */
  readonly inflight: number;
  /** Starts polling (the first poll runs at once). */
  start(): void;
  /** Polls now unless a poll is running (the dispatcher saw this worker fail). */
  probe(): void;
  /** Counts a request as running here; call the returned function once when it ends. */
  lease(): () => void;
  /**
   * Stops polling. `forget`: the worker left the fleet and is drained: its running requests
   * finish (or hit their deadline), then its index entries, load, metric series and KV-event
   * subscribers go. Otherwise (it is being replaced) its index entries are cleared and its
   * subscribers close at once. The backend closes once the last running request returns its
   * lease; the promise resolves then.
   */
  retire(options: { forget: boolean }): Promise<void>;
  snapshot(nowMs: number): WorkerSnapshot;
}

export interface WorkerSnapshot {
  readonly name: string;
  readonly backend: string;
  readonly address: string;
  readonly state: WorkerState;
  readonly role: AnnouncedRole;
  readonly profile: {
    readonly gpu: string;
    readonly model: string;
    readonly tp: number;
    readonly source: 'announced' | 'config' | 'default';
  };
  readonly engineKind: string | null;
  readonly engineId: string | null;
  readonly restarts: number;
  readonly blockSize: { readonly expected: number; readonly announced: number | null; readonly mismatch: boolean };
  readonly health: HealthSnapshot;
  readonly inflight: number;
  readonly lastStatusAtMs: number | null;
  readonly warnings: readonly string[];
  readonly ranks: readonly unknown[];
}

export function createWorkerHandle(options: WorkerHandleOptions): WorkerHandle {
  const { spec, backend, index, load, metrics, clock, expectedBlockSize } = options;
  const name = spec.name;
  const logger = options.logger.child({ worker: name });
  const health = createHealthTracker(options.health);
  const feeds = createKvFeeds({
    worker: name,
    index,
    metrics,
    logger,
    ...(options.createSubscriber ? { createSubscriber: options.createSubscriber } : {}),
  });

  let status: WorkerStatusReport | null = null;
  let lastStatusAtMs: number | null = null;
  let engineId: string | null = null;
  let restarts = 0;
  let role: AnnouncedRole = spec.role ?? 'both';
  let profile = resolveProfile(null);
  let announcedBlockSize: number | null = null;
  let mismatch = false;
  let tenants: { tenant: string; dpRank: number }[] = [];
  /** Tenants registered with the index (with the router's block size) by this handle. */
  const registered = new Set<string>();
  let inflight = 0;
  let retiring = false;
  let stopped = false;
  let polling = false;
  let cancelTimer: (() => void) | undefined;
  let pollAbort: AbortController | undefined;
  let closeBackend: Promise<void> | undefined;
  /** Resolves once the backend has closed (retired, and the last lease returned). */
  let backendClosed = () => {};
  const whenBackendClosed = new Promise<void>((resolve) => (backendClosed = resolve));
  const warned = new Set<string>();
  const warnOnce = (key: string, log: () => void) => {
    if (!warned.has(key)) {
      warned.add(key);
      log();
    }
  };

  function resolveProfile(next: WorkerStatusReport | null): ResolvedProfile {
    const resolved = resolveWorkerProfile(spec, next);
    const { unknown } = resolved;
    if (unknown)
      warnOnce(`profile:${unknown.gpu}/${unknown.model}/${unknown.tp}`, () =>
        options.logger.error(
          { worker: name, gpu: unknown.gpu, model: unknown.model, tp: unknown.tp },
          `worker ${name}: ${unknown.message}; the cost model uses ${DEFAULT_PROFILE.gpu}/${DEFAULT_PROFILE.model}`,
        ),
      );
    return resolved;
  }

  const state = (): WorkerState => {
    if (retiring) return 'retiring';
    if (health.state === 'pending') return 'pending';
    if (health.state === 'ejected') return 'ejected';
    return mismatch ? 'block-size-mismatch' : 'healthy';
  };

  const publishMetrics = () => {
    const now = clock.now();
    for (const { tenant } of tenants) {
      const figures = load.load(tenant, now);
      metrics.setWorkerLoad(tenant, role, {
        inflightRequests: figures.inflightRequests,
        queuedPrefillTokens: figures.queuedPrefillTokens,
        activeKvBlocks: figures.activeDecodeBlocks,
      });
      metrics.setWorkerHealthy(tenant, role, state() === 'healthy');
      metrics.setWorkerBlockSizeMismatch(tenant, mismatch);
      metrics.setWorkerIndexedBlocks(tenant, index.indexedBlocks(tenant));
    }
  };

  function applyStatus(next: WorkerStatusReport): void {
    const now = clock.now();
    status = next;
    lastStatusAtMs = now;
    if (next.engineId !== null && engineId !== null && next.engineId !== engineId) {
      restarts++;
      logger.warn(
        { previous: engineId, engineId: next.engineId },
        `worker ${name} restarted (engine_id changed): forgetting its cached blocks`,
      );
      for (const { tenant } of tenants) index.clearWorker(tenant, 'engine restarted (engine_id changed)');
      feeds.restart();
    }
    if (next.engineId !== null) engineId = next.engineId;

    role = next.role ?? spec.role ?? 'both';
    if (next.role !== null && spec.role !== undefined && next.role !== spec.role) {
      warnOnce(`role:${next.role}`, () =>
        logger.warn(
          { configured: spec.role, announced: next.role },
          `worker ${name} announces role ${next.role}, not the configured ${spec.role}: using ${next.role}`,
        ),
      );
    }
    profile = resolveProfile(next);
    if (profile.source === 'default')
      warnOnce('profile-default', () =>
        logger.warn(
          `worker ${name} names no GPU/model profile: the cost model assumes ${profile.gpu}/${profile.model}/tp${profile.tp} (set workers[].gpu and .model)`,
        ),
      );

    announcedBlockSize = next.blockSize;
    const mismatchNow = next.blockSize !== null && next.blockSize !== expectedBlockSize;
    if (mismatchNow && !mismatch) {
      logger.error(
        { announced: next.blockSize, expected: expectedBlockSize },
        `worker ${name} uses KV blocks of ${next.blockSize} tokens but routing.block_size is ${expectedBlockSize}: it is not routed to until they agree`,
      );
    } else if (!mismatchNow && mismatch) {
      logger.info({ blockSize: next.blockSize }, `worker ${name}'s block size now agrees with routing.block_size`);
    }
    mismatch = mismatchNow;
    if (next.blockSize === null)
      warnOnce('block-size-unknown', () =>
        logger.warn(
          `worker ${name} does not announce its KV block size: assuming routing.block_size (${expectedBlockSize}); the index still rejects events of another size`,
        ),
      );

    const endpoints = kvEventEndpointsFor(spec, next);
    const ranks = ranksOf(spec, next, endpoints);
    tenants = ranks.map((dpRank) => ({ tenant: tenantId(name, dpRank), dpRank }));
    for (const { tenant } of tenants) {
      if (registered.has(tenant)) continue;
      registered.add(tenant);
      index.registerWorker(tenant, { blockSize: expectedBlockSize });
    }
    if (options.subscribeToEvents) {
      if (endpoints.length === 0)
        warnOnce('no-events', () =>
          logger.warn(
            `worker ${name} has no KV-event endpoints (config kv_events or announced): the index will not see its cache`,
          ),
        );
      feeds.sync(mismatch ? [] : endpoints);
    }
    for (const rankLoad of next.load) load.report(tenantId(name, rankLoad.dpRank), rankLoad.report, now);
    for (const warning of next.warnings) warnOnce(`status:${warning}`, () => logger.warn(`worker ${name}: ${warning}`));
  }

  async function poll(): Promise<void> {
    if (polling || stopped) return;
    polling = true;
    cancelTimer?.();
    cancelTimer = undefined;
    const controller = new AbortController();
    pollAbort = controller;
    const cancelTimeout = clock.setTimer(options.health.timeoutMs, () =>
      controller.abort(
        new TandemError('deadline_exceeded', `status did not answer within ${options.health.timeoutMs} ms`),
      ),
    );
    const before = state();
    try {
      const next = await backend.status(controller.signal);
      if (stopped) return;
      applyStatus(next);
      health.observe(true, clock.now());
    } catch (error) {
      if (stopped) return;
      const message = controller.signal.aborted
        ? String((controller.signal.reason as Error).message)
        : (error as Error).message;
      health.observe(false, clock.now(), message);
      logger.debug({ err: message }, 'status poll failed');
    } finally {
      cancelTimeout();
      polling = false;
      pollAbort = undefined;
      if (!stopped) {
        const after = state();
        if (after !== before) {
          const line = `worker ${name}: ${before} -> ${after}`;
          if (after === 'ejected')
            logger.warn(
              { health: health.snapshot() },
              `${line} after ${options.health.failureThreshold} failed status checks (last: ${health.snapshot().lastError})`,
            );
          else logger.info(line);
        }
        publishMetrics();
        cancelTimer = clock.setTimer(options.health.intervalMs, () => void poll());
        options.onChange();
      }
    }
  }

  const maybeClose = () => {
    if (retiring && inflight === 0 && !closeBackend) {
      closeBackend = backend
        .close()
        .catch((error: unknown) => logger.warn({ err: error }, 'closing the backend failed'));
      void closeBackend.then(backendClosed);
    }
  };

  return {
    name,
    spec,
    backend,
    get state() {
      return state();
    },
    get role() {
      return role;
    },
    get profile() {
      return profile.value;
    },
    get tenants() {
      if (tenants.length === 0)
        tenants = ranksOf(spec, status, []).map((dpRank) => ({ tenant: tenantId(name, dpRank), dpRank }));
      return tenants;
    },
    get servedModel() {
      return spec.served_model_name ?? status?.servedModels[0];
    },
    get inflight() {
      return inflight;
    },
    start() {
      void poll();
    },
    probe() {
      void poll();
    },
    lease() {
      inflight++;
      let returned = false;
      return () => {
        if (returned) return;
        returned = true;
        inflight--;
        maybeClose();
      };
    },
    async retire({ forget }) {
      if (retiring) return;
      retiring = true;
      stopped = true;
      cancelTimer?.();
      pollAbort?.abort(new TandemError('cancelled', 'worker retired'));
      if (!forget) {
        for (const { tenant } of tenants) index.clearWorker(tenant, 'worker replaced (config changed)');
        await feeds.close();
      }
      maybeClose();
      if (inflight > 0) logger.info({ inflight }, `worker ${name} left: draining its running requests`);
      await whenBackendClosed;
      if (forget) {
        for (const { tenant } of tenants) {
          index.removeWorker(tenant);
          load.removeWorker(tenant);
          metrics.removeWorker(tenant);
        }
        await feeds.close();
        logger.info(`worker ${name} drained and forgotten`);
      }
    },
    snapshot(nowMs) {
      const events = feeds.snapshot();
      return {
        name,
        backend: spec.backend,
        address: backend.address,
        state: state(),
        role,
        profile: { gpu: profile.gpu, model: profile.model, tp: profile.tp, source: profile.source },
        engineKind: status?.engineKind ?? null,
        engineId,
        restarts,
        blockSize: { expected: expectedBlockSize, announced: announcedBlockSize, mismatch },
        health: health.snapshot(),
        inflight,
        lastStatusAtMs,
        warnings: status?.warnings ?? [],
        ranks: this.tenants.map(({ tenant, dpRank }) => ({
          tenant,
          dpRank,
          load: load.load(tenant, nowMs),
          reported: status?.load.find((rank) => rank.dpRank === dpRank)?.report ?? null,
          indexedBlocks: index.indexedBlocks(tenant),
          index: index.workerStats(tenant) ?? null,
          events: events.find((e) => e.tenant === tenant) ?? null,
        })),
      };
    },
  };
}

export type { FeedSnapshot };
