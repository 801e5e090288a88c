import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AggregatorRegistry, Registry } from 'prom-client';
import { declareMetrics } from '../../common/metric-table.ts';
import type { Logger } from '../../common/log.ts';
import { CLUSTER_METRICS } from '../metrics/index.ts';
import { encodeSyncMessage, IPC_SYNC, isIpcSyncEnvelope, type IpcSyncEnvelope } from '../replica-sync/index.ts';
import { CLUSTER_ENV, isMessage, type MetricsJson, type ToPrimary, type ToServing } from './cluster-protocol.ts';

export interface ClusterPrimaryOptions {
  /** Serving processes to keep running (>= 2). */
  readonly processes: number;
  readonly logger: Logger;
  /** Restart delay after a crash, doubling per crash in a row up to `restartMaxMs`, ms. */
  readonly restartBaseMs?: number;
  readonly restartMaxMs?: number;
  /** How long a metrics collection waits for every process, ms. */
  readonly metricsTimeoutMs?: number;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  origin: string;
  url: string | undefined;
  startedAt: number;
  crashesInRow: number;
  everListened: boolean;
}

/**
 * The primary of `orchestrator.processes` > 1 (node:cluster): serves nothing itself. It forks
 * the serving processes (each runs the same command and so the whole orchestrator, sharing
 * the one listening port), relays every booking-sync message to the other processes, answers
 * a process's request for every process's metrics (aggregated by the asker: counters and
 * histograms summed, the fleet's per-worker gauges by max), restarts a process that dies (its
 * siblings drop its bookings at once) and forwards SIGHUP, SIGTERM and SIGINT. A process that
 * dies before it ever listened stops the whole set: the config or the port is wrong. Resolves
 * with the exit code once every process has exited after a stop signal.
 */
export function runClusterPrimary(options: ClusterPrimaryOptions): Promise<number> {
  const { logger } = options;
  const group = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const baseMs = options.restartBaseMs ?? 200;
  const maxMs = options.restartMaxMs ?? 10_000;
  const registry = new Registry();
  const { restarts, running } = declareMetrics([registry], {
    restarts: {
      kind: 'counter',
      name: CLUSTER_METRICS.processRestarts,
      help: 'Serving processes restarted after they died.',
    },
    running: {
      kind: 'gauge',
      name: CLUSTER_METRICS.processes,
      help: 'Serving processes running now.',
      aggregator: 'max',
    },
  });
  const slots: Slot[] = [];
  let generation = 0;
  let stopping = false;
  let announced = false;
  let exitCode = 0;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  const live = () => slots.filter((s) => s.worker && !s.worker.isDead()).map((s) => s.worker!);
  /**
   * A sibling may be exiting while it still looks connected: its channel then fails with EPIPE.
   * With a callback the failure comes back here instead of as an 'error' event on the Worker,
   * which nothing would handle and which would end the primary; the exit handler cleans up.
   */
  const sendTo = (worker: Worker, message: ToServing | IpcSyncEnvelope) => {
    if (worker.isConnected()) worker.send(message, undefined, undefined, ignoreClosedChannel);
  };

  // Metrics: collections in progress, keyed by the id the primary gave them.
  let nextCollect = 1;
  const collects = new Map<number, { parts: MetricsJson[]; pending: Set<number>; finish: (error?: string) => void }>();
  const collect = (requester: Worker, requestId: number) => {
    const id = nextCollect++;
    const targets = live();
    const own = registry.getMetricsAsJSON();
    const entry = {
      parts: [] as MetricsJson[],
      pending: new Set(targets.map((w) => w.id)),
      finish(error?: string) {
        clearTimeout(timer);
        collects.delete(id);
        void own.then((mine) =>
          sendTo(requester, {
            type: 'tandem:metrics-res',
            id: requestId,
            parts: [mine, ...entry.parts],
            ...(error ? { error } : {}),
          }),
        );
      },
    };
    const timer = setTimeout(
      () => entry.finish(`${entry.pending.size} serving process(es) did not answer in time`),
      options.metricsTimeoutMs ?? 3000,
    );
    collects.set(id, entry);
    for (const w of targets) sendTo(w, { type: 'tandem:metrics-collect', id });
    if (targets.length === 0) entry.finish();
  };

  const fork = (slot: Slot) => {
    slot.origin = `${group}/${slot.index}.${++generation}`;
    slot.url = undefined;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [CLUSTER_ENV.group]: group, [CLUSTER_ENV.origin]: slot.origin });
    slot.worker = worker;
    worker.on('message', (message: unknown) => {
      if (isIpcSyncEnvelope(message)) {
        for (const other of live()) if (other !== worker) sendTo(other, message);
      } else if (isMessage<Extract<ToPrimary, { type: 'tandem:listening' }>>(message, 'tandem:listening')) {
        if (announced)
          logger.info({ pid: worker.process.pid, slot: slot.index }, `serving process ${slot.index} is back`);
        slot.url = message.url;
        slot.everListened = true;
        running.set(live().length);
        if (!announced && slots.every((s) => s.url !== undefined)) {
          announced = true;
          logger.info(
            { url: message.url, processes: slots.length, pids: slots.map((s) => s.worker?.process.pid) },
            `listening on ${message.url} with ${slots.length} serving processes`,
          );
        }
      } else if (isMessage<Extract<ToPrimary, { type: 'tandem:metrics-req' }>>(message, 'tandem:metrics-req')) {
        collect(worker, message.id);
      } else if (isMessage<Extract<ToPrimary, { type: 'tandem:metrics-part' }>>(message, 'tandem:metrics-part')) {
        const entry = collects.get(message.id);
        if (!entry?.pending.delete(worker.id)) return;
        entry.parts.push(message.metrics);
        if (entry.pending.size === 0) entry.finish();
      }
    });
    worker.on('exit', (code, signal) => {
      running.set(live().length);
      for (const [, entry] of collects) if (entry.pending.delete(worker.id) && entry.pending.size === 0) entry.finish();
      // The siblings drop its bookings now rather than at their peer timeout.
      const bye = encodeSyncMessage({ v: 1, origin: slot.origin, group, seq: 0, deltas: [{ k: 'bye' }] });
      for (const other of live()) sendTo(other, { type: IPC_SYNC, text: bye });
      if (stopping) {
        if (code !== 0) exitCode = code ?? 1;
        if (live().length === 0) finish(exitCode);
        return;
      }
      if (!slot.everListened) {
        logger.error(
          { pid: worker.process.pid, code, signal },
          'a serving process exited before it listened: stopping every process',
        );
        stop('SIGTERM', 1);
        return;
      }
      const ranMs = Date.now() - slot.startedAt;
      slot.crashesInRow = ranMs >= 30_000 ? 0 : slot.crashesInRow;
      const delayMs = Math.min(maxMs, baseMs * 2 ** slot.crashesInRow);
      slot.crashesInRow++;
      restarts.inc();
      logger.error(
        { pid: worker.process.pid, code, signal, restartInMs: delayMs },
        `serving process ${slot.index} died (${signal ?? `exit ${code}`}): its requests in flight failed; restarting it`,
      );
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delayMs);
    });
  };

  const stop = (signal: NodeJS.Signals, code = 0) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    const workers = live();
    if (workers.length === 0) finish(exitCode);
    for (const w of workers) w.process.kill(signal);
  };

  let signals = 0;
  const onStop = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn(`${signal} again: killing the serving processes`);
      for (const w of live()) w.process.kill('SIGKILL');
      process.exit(130);
    }
    logger.info(`${signal}: stopping ${live().length} serving processes`);
    // Each process drains gracefully on SIGTERM (SIGINT from a terminal reaches them too; they ignore it).
    stop('SIGTERM');
  };
  const onHangup = () => {
    for (const w of live()) w.process.kill('SIGHUP');
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHangup);

  for (let i = 0; i < options.processes; i++) {
    const slot: Slot = {
      index: i,
      worker: undefined,
      origin: '',
      url: undefined,
      startedAt: 0,
      crashesInRow: 0,
      everListened: false,
    };
    slots.push(slot);
    fork(slot);
  }
  logger.info({ processes: options.processes, group }, `starting ${options.processes} serving processes`);

  return done.finally(() => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHangup);
  });
}

/** Aggregates every process's metrics the way `AggregatorRegistry` does (counters summed, gauges by their aggregator). */
export const aggregateMetrics = (parts: MetricsJson[]): Registry => AggregatorRegistry.aggregate(parts);

/** A send to a serving process whose channel closed under it: expected while it exits. */
function ignoreClosedChannel(_error: Error | null): void {}
