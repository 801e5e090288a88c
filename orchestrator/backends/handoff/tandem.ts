import { TandemError } from '../../../common/errors.ts';
import type { KvHandoffTicket } from '../backend.ts';
import { callFor, type HandoffDeps, type HandoffProtocol } from './protocol.ts';

/**
 * Tandem's own gRPC flow: Prefill returns the first token and a KvHandoff (SIM or TCP, opaque
 * here); Decode takes the handoff and `first_token_id`, so it neither recomputes nor repeats the
 * first token; ReleaseKv frees the hold when no decode pulled it (idempotent).
 */
export function createTandemHandoff(deps: HandoffDeps): HandoffProtocol {
  return {
    name: 'tandem',
    backend: 'grpc',
    open({ call, prefill, signal }) {
      let ticket: KvHandoffTicket | null = null;
      let firstTokenId: number | undefined;
      let released = false;
      return {
        async prefill() {
          const result = await prefill.backend.prefill(callFor(call, prefill), signal);
          ticket = result.handoff;
          if (result.firstTokenId === null)
            throw new TandemError(
              'upstream_error',
              `worker ${prefill.name} answered the prefill without its first token`,
            );
          firstTokenId = result.firstTokenId;
          return {
            firstTokenId: result.firstTokenId,
            firstTokenLogprob: result.firstTokenLogprob,
            finishReason: result.finishReason,
            usage: result.usage,
            decodeRepeatsFirstToken: false,
            decodeRetryable: true,
          };
        },
        decode(peer) {
          if (firstTokenId === undefined) throw new TandemError('internal', 'decode before prefill');
          // A prefill finishing before its first block holds nothing: the decode recomputes.
          const handoff: KvHandoffTicket = ticket ?? { kind: 'tandem', handoff: {}, remoteRequestId: '' };
          return peer.backend.decode({ ...callFor(call, peer), handoff, firstTokenId }, signal);
        },
        async release() {
          if (released || ticket === null) return;
          released = true;
          try {
            await prefill.backend.release(ticket);
          } catch (error) {
            // The hold lapses at its expiry anyway; a lost release costs blocks for a while.
            deps.logger.warn(
              { err: error, requestId: call.requestId, worker: prefill.name },
              "could not release the prefill worker's KV hold",
            );
          }
        },
      };
    },
  };
}
