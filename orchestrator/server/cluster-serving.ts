import type { Registry } from 'prom-client';
import { createIpcTransport } from '../replica-sync/index.ts';
import { aggregateMetrics } from './cluster-primary.ts';
import { CLUSTER_ENV, isMessage, type ToPrimary, type ToServing } from './cluster-protocol.ts';
import type { OrchestratorDeps } from './create-orchestrator.ts';

export interface ServingProcess {
  /** What createOrchestrator needs to be one of several serving processes. */
  readonly deps: NonNullable<OrchestratorDeps['cluster']>;
  /** Answers the primary's metric collections from `registry` (call once the orchestrator exists). */
  answerMetricsFrom(registry: Registry): void;
  /** Tells the primary this process listens at `url`. */
  listening(url: string): void;
}

/**
 * One serving process of a cluster (orchestrator.processes > 1), as forked by
 * cluster-primary.ts: its name and group from the environment, the IPC channel for booking sync,
 * and /metrics built from every process's series (asked of the primary, aggregated here).
 */
export function joinCluster(options: { metricsTimeoutMs?: number } = {}): ServingProcess {
  const origin = process.env[CLUSTER_ENV.origin];
  const group = process.env[CLUSTER_ENV.group];
  if (!origin || !group || !process.send)
    throw new Error('joinCluster() runs only in a process forked by the cluster primary');
  const send = (message: ToPrimary) => {
    if (process.connected) process.send!(message);
  };
  let nextId = 1;
  const waiting = new Map<
    number,
    { resolve: (r: Registry) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  process.on('message', (message: unknown) => {
    if (!isMessage<Extract<ToServing, { type: 'tandem:metrics-res' }>>(message, 'tandem:metrics-res')) return;
    const entry = waiting.get(message.id);
    if (!entry) return;
    waiting.delete(message.id);
    clearTimeout(entry.timer);
    // A process that did not answer in time leaves its series out; the rest still count.
    entry.resolve(aggregateMetrics(message.parts));
  });
  const aggregate = () =>
    new Promise<Registry>((resolve, reject) => {
      if (!process.connected) return reject(new Error('the cluster primary is gone'));
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the cluster primary did not answer with metrics in time'));
      }, options.metricsTimeoutMs ?? 5000);
      waiting.set(id, { resolve, reject, timer });
      send({ type: 'tandem:metrics-req', id });
    });

  return {
    deps: { origin, group, transport: createIpcTransport(), aggregate },
    answerMetricsFrom(registry) {
      process.on('message', (message: unknown) => {
        if (!isMessage<Extract<ToServing, { type: 'tandem:metrics-collect' }>>(message, 'tandem:metrics-collect'))
          return;
        void registry
          .getMetricsAsJSON()
          .then((metrics) => send({ type: 'tandem:metrics-part', id: message.id, metrics }));
      });
    },
    listening: (url) => send({ type: 'tandem:listening', url }),
  };
}
