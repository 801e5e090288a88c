import type { Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/log.ts';
import { createBackend as createRegisteredBackend, type BackendSpec, type WorkerBackend } from '../backends/index.ts';
import type { OrchestratorMetrics } from '../metrics/index.ts';
import type { RoutingCore } from '../routing/index.ts';
import type { Candidate } from '../routing/index.ts';
import type { Readiness } from '../serving.ts';
import type { WorkerSpec } from './discovery.ts';
import type { SubscriberFactory } from './kv-feeds.ts';
import { createWorkerHandle, type WorkerHandle, type WorkerSnapshot } from './worker-handle.ts';

export interface FleetOptions {
  readonly routing: RoutingCore;
  /** routing.block_size. */
  readonly blockSize: number;
  readonly indexMode: 'precise' | 'approximate';
  readonly health: {
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly failureThreshold: number;
    readonly successThreshold: number;
  };
  readonly metrics: OrchestratorMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Builds a worker's backend (default: the registry in orchestrator/backends). */
  readonly createBackend?: (kind: string, spec: BackendSpec) => WorkerBackend;
  readonly createSubscriber?: SubscriberFactory;
  /** Told of every worker that joins (or is replaced), after its handle starts (e.g. the chat-template self-check). */
  readonly onWorkerAdded?: (spec: WorkerSpec) => void;
}

/** A routing tenant and what serving a request on it needs. */
export interface Placement {
  readonly worker: WorkerHandle;
  readonly tenant: string;
  readonly dpRank: number;
}

export interface FleetChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

/**
 * The live worker set: applies what discovery reports (adding, replacing and retiring workers
 * without touching the others' running requests), keeps one WorkerHandle per worker (health
 * polling, status, KV-event feeds), and answers the dispatcher: which tenants are candidates now,
 * how to reach one, whether the fleet can serve.
 */
export interface Fleet {
  /** Converges on `specs` (the whole set, by name); a worker whose entry changed is replaced. */
  apply(specs: readonly WorkerSpec[]): FleetChange;
  /**
   * Routing candidates of every role (the dispatcher splits them into pools by role): healthy
   * workers' tenants, plus ejected ones as unhealthy candidates when `includeUnhealthy`.
   */
  candidates(options?: { includeUnhealthy?: boolean }): readonly Candidate[];
  /** Workers that are not candidates at all, and why (for /debug/route and errors). */
  notRouted(): { worker: string; state: string; reason: string }[];
  placement(tenant: string): Placement | undefined;
  /** Refreshes a tenant's load gauges from the load book. */
  publishLoad(tenant: string): void;
  /** The dispatcher saw `worker` fail: poll its status now. */
  probe(worker: string): void;
  /** Called whenever candidates or capacity may have changed (polls, health, membership). */
  onChange(listener: () => void): () => void;
  readiness(): Readiness;
  snapshot(): WorkerSnapshot[];
  readonly size: number;
  close(): Promise<void>;
}

export function createFleet(options: FleetOptions): Fleet {
  const { routing, metrics, logger, clock } = options;
  const makeBackend = options.createBackend ?? createRegisteredBackend;
  const handles = new Map<string, WorkerHandle>();
  const retiring = new Set<Promise<void>>();
  const listeners = new Set<() => void>();
  let cache: { all: Candidate[]; healthy: Candidate[]; byTenant: Map<string, Placement> } | undefined;
  let closed = false;

  const changed = () => {
    cache = undefined;
    for (const listener of listeners) listener();
  };

  const build = () => {
    if (cache) return cache;
    const all: Candidate[] = [];
    const healthy: Candidate[] = [];
    const byTenant = new Map<string, Placement>();
    for (const worker of handles.values()) {
      const state = worker.state;
      if (state !== 'healthy' && state !== 'ejected') continue;
      for (const { tenant, dpRank } of worker.tenants) {
        byTenant.set(tenant, { worker, tenant, dpRank });
        const candidate: Candidate = {
          id: tenant,
          role: worker.role,
          profile: worker.profile,
          blockSize: options.blockSize,
          healthy: state === 'healthy',
        };
        all.push(candidate);
        if (candidate.healthy) healthy.push(candidate);
      }
    }
    cache = { all, healthy, byTenant };
    return cache;
  };

  const add = (spec: WorkerSpec) => {
    const backend = makeBackend(spec.backend, {
      name: spec.name,
      address: spec.address,
      servedModelName: spec.served_model_name,
    });
    const handle = createWorkerHandle({
      spec,
      backend,
      expectedBlockSize: options.blockSize,
      subscribeToEvents: options.indexMode === 'precise',
      health: options.health,
      index: routing.index,
      load: routing.load,
      metrics,
      logger,
      clock,
      createSubscriber: options.createSubscriber,
      onChange: changed,
    });
    handles.set(spec.name, handle);
    handle.start();
    options.onWorkerAdded?.(spec);
  };
  const retire = (handle: WorkerHandle, forget: boolean) => {
    handles.delete(handle.name);
    const done = handle.retire({ forget }).finally(() => retiring.delete(done));
    retiring.add(done);
  };

  return {
    apply(specs) {
      if (closed) return { added: [], removed: [], changed: [] };
      const wanted = new Map(specs.map((s) => [s.name, s]));
      const added: string[] = [];
      const removed: string[] = [];
      const replaced: string[] = [];
      for (const handle of [...handles.values()]) {
        const spec = wanted.get(handle.name);
        if (!spec) {
          retire(handle, true);
          removed.push(handle.name);
        } else if (JSON.stringify(spec) !== JSON.stringify(handle.spec)) {
          retire(handle, false);
          replaced.push(handle.name);
        }
      }
      for (const spec of specs) {
        if (handles.has(spec.name)) continue;
        add(spec);
        if (!replaced.includes(spec.name)) added.push(spec.name);
      }
      if (added.length || removed.length || replaced.length) {
        logger.info({ added, removed, changed: replaced, workers: handles.size }, 'worker set changed');
        changed();
      }
      return { added, removed, changed: replaced };
    },

    candidates(candidateOptions = {}) {
      const built = build();
      return candidateOptions.includeUnhealthy ? built.all : built.healthy;
    },

    notRouted() {
      const out: { worker: string; state: string; reason: string }[] = [];
      for (const worker of handles.values()) {
        const state = worker.state;
        if (state === 'pending') out.push({ worker: worker.name, state, reason: 'no good status yet' });
        else if (state === 'block-size-mismatch') {
          const announced = worker.snapshot(clock.now()).blockSize.announced;
          out.push({
            worker: worker.name,
            state,
            reason: `KV block size ${announced} differs from routing.block_size ${options.blockSize}`,
          });
        }
      }
      return out;
    },

    placement: (tenant) => build().byTenant.get(tenant),

    publishLoad(tenant) {
      const placement = build().byTenant.get(tenant);
      if (!placement) return;
      const figures = routing.load.load(tenant, clock.now());
      metrics.setWorkerLoad(tenant, placement.worker.role, {
        inflightRequests: figures.inflightRequests,
        queuedPrefillTokens: figures.queuedPrefillTokens,
        activeKvBlocks: figures.activeDecodeBlocks,
      });
    },

    probe(worker) {
      handles.get(worker)?.probe();
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    readiness() {
      const counts = new Map<string, number>();
      let serving = 0;
      for (const worker of handles.values()) {
        const key = worker.state === 'healthy' ? `healthy ${worker.role}` : worker.state;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (worker.state === 'healthy' && worker.role !== 'prefill') serving++;
      }
      const parts = [...counts.entries()].map(([key, n]) => `${n} ${key}`);
      if (handles.size === 0) return { ready: false, detail: 'no workers configured' };
      const detail = `${handles.size} worker${handles.size === 1 ? '' : 's'}: ${parts.join(', ')}`;
      return serving > 0
        ? { ready: true, detail }
        : { ready: false, detail: `no healthy worker can decode (role decode or both); ${detail}` };
    },

    snapshot() {
      const now = clock.now();
      return [...handles.values()].map((h) => h.snapshot(now));
    },

    get size() {
      return handles.size;
    },

    async close() {
      closed = true;
      for (const handle of [...handles.values()]) retire(handle, false);
      await Promise.all([...retiring]);
      listeners.clear();
    },
  };
}
