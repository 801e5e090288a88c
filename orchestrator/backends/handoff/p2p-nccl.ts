import { TandemError } from '../../../common/errors.ts';
import type { FinishReason } from '../../serving.ts';
import type { BackendUsage } from '../backend.ts';
import { callFor, firstTokenIsReproducible, type HandoffDeps, type HandoffProtocol } from './protocol.ts';

/**
 * vLLM's P2pNcclConnector flow, as its xPyD proxy runs it (PROTOCOLS.md 3.3): both requests carry
 * one X-Request-Id, `___prefill_addr_<P zmq>___decode_addr_<D zmq>_<uuid4 hex>`, from which the
 * engines learn their NCCL peers; the prefill gets a copy of the body with `max_tokens: 1` (not
 * forced to non-streaming; drained here), then the decode gets the original body. The KV goes
 * P -> D over NCCL keyed by that id, so a decode cannot move to another worker (the id names D):
 * a failed decode is not retried with this handoff. There is no release call.
 *
 * The engines' zmq addresses come from config (`workers[].kv_transfer.nccl_address`); the
 * proxy's own discovery (engines announcing themselves to a ZMQ ROUTER every 3 s) is not built.
 */
export function createP2pNcclHandoff(deps: HandoffDeps): HandoffProtocol {
  return {
    name: 'p2p-nccl',
    backend: 'vllm-http',
    open({ call, prefill, decode, signal }) {
      const address = (peer: typeof prefill) => {
        if (!peer.ncclAddress)
          throw new TandemError(
            'failed_precondition',
            `worker ${peer.name} has no kv_transfer.nccl_address for the p2p-nccl protocol`,
          );
        return peer.ncclAddress;
      };
      const requestId = `___prefill_addr_${address(prefill)}___decode_addr_${address(decode)}_${deps.randomHex(16)}`;
      return {
        async prefill() {
          // max_tokens 1 (min_tokens capped so the engine accepts it), the rest as the client sent it.
          const sampling = { ...call.sampling, maxTokens: 1, minTokens: Math.min(call.sampling.minTokens, 1) };
          const tokens: number[] = [];
          let finishReason: FinishReason | undefined;
          let usage: BackendUsage | undefined;
          for await (const chunk of prefill.backend.generate(
            callFor({ ...call, sampling }, prefill, {
              requestId,
              ...(call.openai ? { extraBody: onePassThroughToken(call.openai.body) } : {}),
            }),
            signal,
          )) {
            tokens.push(...chunk.tokenIds);
            finishReason = chunk.finishReason ?? finishReason;
            usage = chunk.usage ?? usage;
          }
          const first = tokens[0];
          if (call.openai) {
            // The client's own body: the decode stream carries every token, as it wrote them.
            return {
              firstTokenId: null,
              finishReason: null,
              usage: usage ?? { promptTokens: call.tokenIds.length, cachedPromptTokens: 0, completionTokens: 1 },
              decodeRepeatsFirstToken: false,
              decodeRetryable: false,
            };
          }
          if (first === undefined)
            throw new TandemError(
              'upstream_error',
              `worker ${prefill.name} answered the p2p-nccl prefill without a token`,
            );
          const prefillUsage = usage ?? {
            promptTokens: call.tokenIds.length,
            cachedPromptTokens: 0,
            completionTokens: 1,
          };
          // Only an end-of-sequence ends the request here; `length` is the prefill's own max_tokens.
          if (finishReason === 'stop' || call.sampling.maxTokens <= 1)
            return {
              firstTokenId: first,
              finishReason: finishReason ?? 'length',
              usage: prefillUsage,
              decodeRepeatsFirstToken: false,
              decodeRetryable: false,
            };
          const early = firstTokenIsReproducible(call);
          return {
            firstTokenId: early ? first : null,
            finishReason: null,
            usage: prefillUsage,
            decodeRepeatsFirstToken: early,
            decodeRetryable: false,
          };
        },
        decode(peer) {
          if (peer.name !== decode.name)
            throw new TandemError(
              'internal',
              `a p2p-nccl handoff names decode worker ${decode.name}, not ${peer.name}`,
            );
          return decode.backend.generate(callFor(call, decode, { requestId }), signal);
        },
        async release() {
          // The connector frees its send buffer itself.
        },
      };
    },
  };
}

/** The fields that make a copy of the client's body generate one token (the rest as it came). */
function onePassThroughToken(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return {
    max_tokens: 1,
    ...('max_completion_tokens' in body ? { max_completion_tokens: 1 } : {}),
    ...(typeof body.min_tokens === 'number' ? { min_tokens: Math.min(body.min_tokens, 1) } : {}),
  };
}
