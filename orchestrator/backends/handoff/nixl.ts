import { TandemError } from '../../../common/errors.ts';
import type { KvHandoffTicket } from '../backend.ts';
import { callFor, firstTokenIsReproducible, type HandoffDeps, type HandoffProtocol } from './protocol.ts';

/**
 * vLLM's NixlConnector flow, as its toy proxy and vllm-project/router run it (PROTOCOLS.md 3.1):
 * the prefill body with `max_tokens: 1`, `stream: false`, no `stream_options` / `min_tokens`,
 * `kv_transfer_params.do_remote_decode: true` (the vllm-http backend's `prefill`); the response's
 * `kv_transfer_params` copied verbatim into the original body for the decode worker
 * (`remote_host` fixed when the prefill worker reports localhost or a wildcard); the same
 * X-Request-Id on both. A prefill answering no params (a prompt shorter than a block) sends the
 * decode worker the original body alone, which recomputes, as the proxy would.
 *
 * vLLM has no release call: the prefill side frees the blocks once the decode side has pulled
 * them, or after VLLM_NIXL_ABORT_REQUEST_TIMEOUT (480 s) when no decode ever comes.
 */
export function createNixlHandoff(_deps: HandoffDeps): HandoffProtocol {
  return {
    name: 'nixl',
    backend: 'vllm-http',
    open({ call, prefill, signal }) {
      let ticket: KvHandoffTicket | null | undefined;
      return {
        async prefill() {
          const result = await prefill.backend.prefill(callFor(call, prefill), signal);
          ticket = result.handoff;
          if (result.finishReason !== null)
            return {
              firstTokenId: result.firstTokenId,
              finishReason: result.finishReason,
              usage: result.usage,
              decodeRepeatsFirstToken: false,
              decodeRetryable: false,
            };
          // A pass-through prefill has no token id to send early: the decode stream carries every token.
          const early = result.firstTokenId !== null && firstTokenIsReproducible(call);
          return {
            firstTokenId: early ? result.firstTokenId : null,
            finishReason: null,
            usage: result.usage,
            decodeRepeatsFirstToken: early,
            decodeRetryable: true,
          };
        },
        decode(peer) {
          if (ticket === undefined) throw new TandemError('internal', 'decode before prefill');
          if (ticket === null) return peer.backend.generate(callFor(call, peer), signal);
          return peer.backend.decode({ ...callFor(call, peer), handoff: ticket }, signal);
        },
        async release() {
          // Nothing to call (see above); kept for the interface.
        },
      };
    },
  };
}
