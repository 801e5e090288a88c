import { toTandemError, type TandemError } from '../../../common/errors.ts';
import type { Logger } from '../../../common/log.ts';
import type { KvHandoff, KvTransfer, PendingPull } from '../../engine/index.ts';
import type { KvBlockLayout } from '../kv/layout.ts';
import type { KvBlockClient } from '../transfer/client.ts';
import { checkTcpHandoff, type TcpPullPlan } from '../transfer/handoff.ts';

/**
 * The reference engine's KvTransfer: handoffs name this engine's TCP block server, and a decode
 * pulls the blocks it lacks from the peer's block server (workers/reference/transfer).
 *
 * Decode side, per request: the handoff is checked at submission (transport, address, block
 * size, layout, block count); a handoff that cannot be pulled recomputes the prompt, or under
 * policy "fail" is refused with kv_transfer_failed. At admission the scheduler claims local
 * blocks for what this engine does not cache and calls `start`, which reads exactly those
 * remote blocks into them. When the read ends, the peer is told to free its blocks (RELEASE, at
 * most once per request, also when the request ends first or needs no pull at all); then the
 * engine resumes the request (`onPulled`) or takes the failure (`onPullFailed`: recompute, or
 * end the request under "fail").
 */
export interface TcpKvTransferOptions {
  readonly layout: KvBlockLayout;
  /** Where decode engines reach this engine's block server: put in every handoff. */
  readonly advertiseHost: string;
  readonly port: number;
  readonly client: KvBlockClient;
  readonly logger: Logger;
  /** The pull's blocks are in place: resume the request. */
  readonly onPulled: (requestId: string, pull: PendingPull) => void;
  /** The pull failed after submission: recompute the prompt or end the request, per `policy`. */
  readonly onPullFailed: (
    requestId: string,
    pull: PendingPull,
    policy: 'recompute' | 'fail',
    error: TandemError,
  ) => void;
}

export function createTcpKvTransfer(options: TcpKvTransferOptions): KvTransfer {
  const { layout, client, logger } = options;
  const shape = {
    numLayers: layout.numLayers,
    numKvHeads: layout.numKvHeads,
    headDim: layout.headDim,
    dtype: layout.dtype,
  };

  const createPull = (
    requestId: string,
    plan: TcpPullPlan,
    promptLength: number,
    policy: 'recompute' | 'fail',
  ): PendingPull => {
    const peer = { host: plan.host, port: plan.port, remoteRequestId: plan.remoteRequestId };
    let controller: AbortController | undefined;
    let settled = false;
    let released = false;

    /** RELEASE to the peer, once; failures only logged (the hold expires on its own). */
    const releasePeer = () => {
      if (released) return;
      released = true;
      client.release(peer).then(
        (result) => {
          if (!result.ok)
            logger.warn(
              { err: result.error, requestId, peer: `${peer.host}:${peer.port}` },
              'could not tell the prefill worker to free its KV blocks',
            );
        },
        (error: unknown) => logger.warn({ err: error, requestId }, 'KV release notification failed'),
      );
    };

    const pull: PendingPull = {
      coverageTokens: Math.min(plan.numTokens, promptLength),
      blockBytes: layout.blockBytes,
      start(localBlockIds, firstBlock) {
        const remoteBlockIds = plan.blockIds.slice(firstBlock, firstBlock + localBlockIds.length);
        controller = new AbortController();
        const finish = (error: TandemError | undefined) => {
          if (settled) return;
          settled = true;
          releasePeer();
          if (error === undefined) options.onPulled(requestId, pull);
          else options.onPullFailed(requestId, pull, policy, error);
        };
        client
          .readBlocks({ ...peer, remoteBlockIds, localBlockIds: localBlockIds.slice(), signal: controller.signal })
          .then(
            (result) => finish(result.ok ? undefined : result.error),
            (error: unknown) => finish(toTandemError(error, 'kv_transfer_failed')),
          );
        return Number.POSITIVE_INFINITY;
      },
      abandon() {
        // The request ended first, or caches every block the handoff covers: nothing to pull.
        settled = true;
        controller?.abort();
        releasePeer();
      },
    };
    return pull;
  };

  return {
    plan(request, promptLength) {
      const policy = request.loadFailurePolicy ?? 'recompute';
      const checked = checkTcpHandoff(handoffFields(request.handoff), layout);
      if (!checked.ok) {
        if (policy === 'fail') throw checked.error;
        logger.warn(
          { err: checked.error, requestId: request.requestId },
          'cannot pull this handoff; recomputing the prompt',
        );
        return null;
      }
      return createPull(request.requestId, checked.value, promptLength, policy);
    },
    describe: (handoff) => ({
      ...handoff,
      tpSize: 1,
      transport: 'tcp',
      host: options.advertiseHost,
      port: options.port,
      layout: shape,
    }),
  };
}

/** The engine API's handoff in the form the TCP checks read. */
function handoffFields(handoff: KvHandoff) {
  return {
    transport: handoff.transport ?? 'sim',
    host: handoff.host ?? '',
    port: handoff.port ?? 0,
    remoteEngineId: handoff.engineId,
    remoteRequestId: handoff.handoffId,
    blockGroups: Array.isArray(handoff.blockIds) ? [handoff.blockIds] : [],
    blockSize: handoff.blockSize,
    numTokens: handoff.numTokens,
    tpSize: handoff.tpSize,
    layout: handoff.layout && { ...handoff.layout, blockBytes: handoff.blockBytes },
  };
}
