import { offsetEndpointPort } from '../../proto/kv-events/index.ts';
import type { KvEventEndpoint, WorkerStatusReport } from '../backends/index.ts';
import type { WorkerSpec } from './discovery.ts';

/** The host part of a worker's address ("host:port", "[v6]:port" or a URL). */
export function hostOf(spec: Pick<WorkerSpec, 'address' | 'backend'>): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec.address)) {
    try {
      return new URL(spec.address).hostname;
    } catch {
      return spec.address;
    }
  }
  const colon = spec.address.lastIndexOf(':');
  const host = colon > 0 ? spec.address.slice(0, colon) : spec.address;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * A publisher's endpoint as a subscriber must dial it: vLLM is configured with bind addresses
 * ("tcp://*:5557", "tcp://0.0.0.0:5557"), which name no host to connect to; those get the
 * worker's own host.
 */
export function connectable(endpoint: string, workerHost: string): string {
  const match = /^tcp:\/\/(\*|0\.0\.0\.0|\[::\]|::):(\d+)$/.exec(endpoint);
  if (!match) return endpoint;
  const host = workerHost.includes(':') ? `[${workerHost}]` : workerHost;
  return `tcp://${host}:${match[2]}`;
}

/**
 * The KV-event endpoints to subscribe to for a worker: the config's `kv_events` (one per
 * data-parallel rank, ports offset by the rank as vLLM does), else what the worker announced in
 * its status. Bind-style hosts are replaced by the worker's host.
 */
export function kvEventEndpointsFor(spec: WorkerSpec, status: WorkerStatusReport | null): KvEventEndpoint[] {
  const host = hostOf(spec);
  if (spec.kv_events) {
    const { endpoint, replay_endpoint: replay, topic } = spec.kv_events;
    return Array.from({ length: spec.data_parallel_size }, (_, rank) => ({
      endpoint: connectable(offsetEndpointPort(endpoint, rank), host),
      replayEndpoint: replay === undefined ? undefined : connectable(offsetEndpointPort(replay, rank), host),
      topic,
      dpRank: rank,
    }));
  }
  return (status?.kvEventEndpoints ?? []).map((e) => ({
    endpoint: connectable(e.endpoint, host),
    replayEndpoint: e.replayEndpoint === undefined ? undefined : connectable(e.replayEndpoint, host),
    topic: e.topic,
    dpRank: e.dpRank,
  }));
}

/** Every data-parallel rank the worker has, by config and by what it announced, ascending. */
export function ranksOf(
  spec: WorkerSpec,
  status: WorkerStatusReport | null,
  endpoints: readonly KvEventEndpoint[],
): number[] {
  const ranks = new Set<number>();
  for (let rank = 0; rank < spec.data_parallel_size; rank++) ranks.add(rank);
  for (const e of endpoints) ranks.add(e.dpRank);
  for (const l of status?.load ?? []) ranks.add(l.dpRank);
  return [...ranks].sort((a, b) => a - b);
}
