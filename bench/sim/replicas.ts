import type { Clock } from '../../common/clock.ts';
import type { Config } from '../../common/config/index.ts';
import { createRng } from '../../common/rng.ts';
import type { KvIndex } from '../../orchestrator/kv-index/index.ts';
import type { LoadBook } from '../../orchestrator/load/index.ts';
import { createSyncedBook, type SyncedBook, type SyncDelta } from '../../orchestrator/replica-sync/index.ts';
import { createRoutingCore, type RoutingCore } from '../../orchestrator/routing/index.ts';
import type { ServingCore } from '../../orchestrator/serving.ts';

export interface RouterReplicasOptions {
  readonly config: Readonly<Config>;
  readonly clock: Clock;
  readonly seed: string;
  /** Router replicas (orchestrator replicas, each with its own routing core and dispatcher), >= 2. */
  readonly count: number;
  /** Share bookings (and approximate-index inserts) between replicas, as orchestrator/replica-sync does. */
  readonly sync: boolean;
  /** One-way delay of a sync delta, ms (NATS core on a datacentre network: ~1 ms). */
  readonly syncMs: number;
  /** A delta was applied (a promise may have settled). */
  readonly onDeliver: () => void;
}

export interface RouterReplicas {
  readonly cores: readonly RoutingCore[];
  /** What the fleet feeds (KV events, worker status, membership) reaches every replica; reads answer from replica 0. */
  readonly index: KvIndex;
  readonly load: LoadBook;
  /** Deltas delivered so far. */
  readonly deltas: () => number;
}

/**
 * R router replicas over one simulated fleet: each its own routing core (index, load book,
 * policy), fed the same KV events and worker status as the live replicas are (each subscribes
 * itself), and, with `sync`, the real replica-sync apply path (`createSyncedBook`) carrying each
 * replica's deltas to the others after `syncMs` on the virtual clock.
 */
export function createRouterReplicas(options: RouterReplicasOptions): RouterReplicas {
  const { clock, count } = options;
  const books: SyncedBook[] = [];
  let delivered = 0;
  const send = (from: number, delta: SyncDelta) => {
    clock.setTimer(options.syncMs, () => {
      const now = clock.now();
      books.forEach((book, j) => {
        if (j !== from) book.apply(`replica-${from}`, delta, now);
      });
      delivered++;
      options.onDeliver();
    });
  };
  const cores = Array.from({ length: count }, (_, i) =>
    createRoutingCore(options.config.routing, {
      clock,
      seed: `${options.seed}/replica-${i}`,
      ...(options.sync
        ? {
            wrap: (parts: { index: KvIndex; load: LoadBook }) => {
              const book = createSyncedBook({ ...parts, emit: (delta) => send(i, delta) });
              books[i] = book;
              return { index: book.index, load: parts.load };
            },
          }
        : {}),
    }),
  );
  const first = cores[0]!;
  const index: KvIndex = {
    get mode() {
      return first.index.mode;
    },
    registerWorker: (tenant, o) => cores.forEach((c) => c.index.registerWorker(tenant, o)),
    blockSizeOf: (tenant) => first.index.blockSizeOf(tenant),
    clearWorker: (tenant, reason) => cores.forEach((c) => c.index.clearWorker(tenant, reason)),
    removeWorker: (tenant) => cores.forEach((c) => c.index.removeWorker(tenant)),
    overlaps: (chain, tenants, out) => first.index.overlaps(chain, tenants, out),
    applyBatch: (tenant, batch) => cores.map((c) => c.index.applyBatch(tenant, batch))[0]!,
    recordRouted: (tenant, chain, nowMs) => first.index.recordRouted(tenant, chain, nowMs),
    expire: (nowMs) => cores.map((c) => c.index.expire(nowMs))[0]!,
    indexedBlocks: (tenant) => first.index.indexedBlocks(tenant),
    condition: (tenant) => first.index.condition(tenant),
    workerStats: (tenant) => first.index.workerStats(tenant),
    stats: () => first.index.stats(),
  };
  const load: LoadBook = {
    book: (worker, figures, nowMs) => first.load.book(worker, figures, nowMs),
    firstToken: (id, nowMs) => first.load.firstToken(id, nowMs),
    release: (id) => first.load.release(id),
    touch: (id, nowMs, decodeBlocks) => first.load.touch(id, nowMs, decodeBlocks),
    report: (worker, report, nowMs) => cores.forEach((c) => c.load.report(worker, report, nowMs)),
    load: (worker, nowMs) => first.load.load(worker, nowMs),
    expire: (nowMs) => cores.map((c) => c.load.expire(nowMs))[0]!,
    removeWorker: (worker) => cores.forEach((c) => c.load.removeWorker(worker)),
    workers: () => first.load.workers(),
    observe: (listener) => first.load.observe(listener),
  };
  return { cores, index, load, deltas: () => delivered };
}

/**
 * Requests spread over the replicas as a Kubernetes Service does (kube-proxy picks a ready
 * endpoint at random per connection; one request per connection here), seeded.
 */
export function spreadOverReplicas(replicas: readonly ServingCore[], seed: string): ServingCore {
  const rng = createRng(seed).fork('service');
  const first = replicas[0]!;
  return {
    models: () => first.models(),
    generate: (request, signal) => rng.pick(replicas).generate(request, signal),
    explain: (request) => first.explain(request),
    readiness: () => first.readiness(),
    workers: () => first.workers(),
  };
}
