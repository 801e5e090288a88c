import type { Logger } from '../../common/log.ts';
import { silentLogger } from '../../common/log.ts';
import { WorkerService } from '../../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcClient, type ServiceClient } from '../../proto/grpc/index.ts';
import type { Engine } from '../engine/engine-api.ts';

/** A hold on a prefill worker, as a handoff names it. */
export interface PeerHold {
  /** The prefill worker's gRPC address (KvHandoff host/port; vLLM's remote_host/remote_port). */
  readonly host: string;
  readonly port: number;
  /** The prefill engine's id (remote_engine_id): another id at that address means it restarted. */
  readonly engineId: string;
  /** The hold's id (remote_request_id). */
  readonly handoffId: string;
}

/** The prefill side's answer to a pull. */
export type PullAnswer =
  | { readonly held: true; readonly numBlocks: number; readonly numTokens: number }
  | { readonly held: false; readonly reason: 'not-held' | 'unreachable'; readonly detail: string };

/**
 * The decode side of the KV control plane: PullKv and ReleaseKv to the worker holding a
 * handoff, over gRPC, one cached client per address. A hold of this worker's own engine (same
 * engine id) is answered in process. Nothing here throws: failures are answers.
 */
export interface KvPeers {
  /** Whether the hold is still there (PullKv); never releases it. */
  pull(hold: PeerHold, signal?: AbortSignal): Promise<PullAnswer>;
  /** Frees the hold (ReleaseKv). Resolves with `found`, or undefined when the peer was unreachable. */
  release(hold: PeerHold): Promise<boolean | undefined>;
  /** Closes every client. */
  close(): void;
}

export interface KvPeersOptions {
  /** This worker's engine, which answers for holds carrying its own engine id. */
  readonly engine: Engine;
  /** Bound on each call, milliseconds. */
  readonly timeoutMs: number;
  readonly logger?: Logger;
}

export function createKvPeers(options: KvPeersOptions): KvPeers {
  const { engine, timeoutMs } = options;
  const logger = options.logger ?? silentLogger;
  const clients = new Map<string, ServiceClient<typeof WorkerService>>();
  let closed = false;

  const clientFor = (hold: PeerHold) => {
    const address = `${hold.host.includes(':') ? `[${hold.host}]` : hold.host}:${hold.port}`;
    let client = clients.get(address);
    if (!client) {
      client = createGrpcClient(WorkerService, address);
      clients.set(address, client);
    }
    return client;
  };
  const isLocal = (hold: PeerHold) => hold.engineId === engine.info.engineId;

  return {
    async pull(hold, signal) {
      if (isLocal(hold)) {
        const held = engine.heldKv(hold.handoffId);
        return held
          ? { held: true, numBlocks: held.numBlocks, numTokens: held.numTokens }
          : { held: false, reason: 'not-held', detail: 'this engine holds nothing under that id' };
      }
      if (closed) return { held: false, reason: 'unreachable', detail: 'the worker is shutting down' };
      try {
        const answer = await clientFor(hold).pullKv(
          { remoteRequestId: hold.handoffId, remoteEngineId: hold.engineId },
          { timeoutMs, ...(signal ? { signal } : {}) },
        );
        if (answer.held) return { held: true, numBlocks: answer.numBlocks, numTokens: answer.numTokens };
        return {
          held: false,
          reason: 'not-held',
          detail: `${hold.host}:${hold.port} holds nothing under ${hold.handoffId} for engine ${hold.engineId}`,
        };
      } catch (error) {
        return {
          held: false,
          reason: 'unreachable',
          detail: `PullKv to ${hold.host}:${hold.port} failed: ${(error as Error).message}`,
        };
      }
    },
    async release(hold) {
      if (isLocal(hold)) return engine.release(hold.handoffId).found;
      if (closed) return undefined;
      try {
        return (await clientFor(hold).releaseKv({ remoteRequestId: hold.handoffId }, { timeoutMs })).found;
      } catch (error) {
        // The hold lapses at its expiry anyway; a lost release costs blocks for a while, not correctness.
        logger.warn(
          { err: error, peer: `${hold.host}:${hold.port}`, handoffId: hold.handoffId },
          'ReleaseKv to the prefill worker failed',
        );
        return undefined;
      }
    },
    close() {
      closed = true;
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}
