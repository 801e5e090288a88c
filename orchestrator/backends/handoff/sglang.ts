import { TandemError, toTandemError } from '../../../common/errors.ts';
import type { BackendUsage } from '../backend.ts';
import { startEagerly, type EagerStream } from './eager.ts';
import type { BackendChunk } from '../backend.ts';
import { callFor, type HandoffDeps, type HandoffProtocol } from './protocol.ts';

/**
 * SGLang's PD flow, as its router runs it (PROTOCOLS.md 5.3): the same body goes to both
 * workers with `bootstrap_host` (the prefill worker's host), `bootstrap_port` (its bootstrap
 * server's port, or null) and `bootstrap_room` (a random non-negative integer), sent at the same
 * time; the workers meet through the bootstrap server, the prefill's response is read to the
 * end, and the decode's stream (which starts with the first token) goes to the client. A prefill
 * that fails drops the decode (its error is the request's); a decode that fails first aborts the
 * prefill. The room belongs to one decode worker, so a failed decode is not retried with it.
 *
 * The room is drawn below 2^53 (SGLang takes 0..2^63-1) so it survives JSON in JavaScript.
 * Over the OpenAI wire of the vllm-http backend: the decode stream must carry token ids.
 */
export function createSglangHandoff(deps: HandoffDeps): HandoffProtocol {
  return {
    name: 'sglang',
    backend: 'vllm-http',
    open({ call, prefill, decode, signal }) {
      const room = Number(BigInt(`0x${deps.randomHex(8)}`) & BigInt(Number.MAX_SAFE_INTEGER));
      const bootstrap = {
        bootstrap_host: hostOf(prefill.backend.address),
        bootstrap_port: prefill.bootstrapPort === undefined ? 8998 : prefill.bootstrapPort,
        bootstrap_room: room,
      };
      const prefillAbort = new AbortController();
      const decodeAbort = new AbortController();
      const forward = () => {
        prefillAbort.abort(signal.reason);
        decodeAbort.abort(signal.reason);
      };
      if (signal.aborted) forward();
      else signal.addEventListener('abort', forward, { once: true });
      let decoding: EagerStream<BackendChunk> | undefined;
      let released = false;

      return {
        async prefill() {
          decoding = startEagerly(
            decode.backend.generate(callFor(call, decode, { extraBody: bootstrap }), decodeAbort.signal),
          );
          const drained = (async (): Promise<BackendUsage> => {
            let usage: BackendUsage | undefined;
            for await (const chunk of prefill.backend.generate(
              callFor(call, prefill, { extraBody: bootstrap }),
              prefillAbort.signal,
            ))
              usage = chunk.usage ?? usage;
            return usage ?? { promptTokens: call.tokenIds.length, cachedPromptTokens: 0, completionTokens: 0 };
          })();
          // A decode failing before the prefill is done aborts the prefill.
          const decodeFailed = decoding.started.then(
            () => new Promise<never>(() => undefined),
            (error: unknown) => {
              prefillAbort.abort(error);
              throw toTandemError(error, 'upstream_error');
            },
          );
          decodeFailed.catch(() => undefined);
          try {
            const usage = await Promise.race([drained, decodeFailed]);
            return {
              firstTokenId: null,
              finishReason: null,
              usage,
              decodeRepeatsFirstToken: false,
              decodeRetryable: false,
            };
          } catch (error) {
            // A prefill that fails drops the decode.
            decodeAbort.abort(error);
            drained.catch(() => undefined);
            throw toTandemError(error, 'upstream_error');
          }
        },
        decode(peer) {
          if (!decoding) throw new TandemError('internal', 'decode before prefill');
          if (peer.name !== decode.name)
            throw new TandemError(
              'internal',
              `an sglang bootstrap room belongs to decode worker ${decode.name}, not ${peer.name}`,
            );
          return decoding.stream;
        },
        async release() {
          if (released) return;
          released = true;
          signal.removeEventListener('abort', forward);
          // Whatever still runs on either side (the request ended early) stops now.
          const reason = new TandemError('cancelled', 'the disaggregated request ended');
          prefillAbort.abort(reason);
          decodeAbort.abort(reason);
        },
      };
    },
  };
}

/** The host part of a worker's address (a URL or host:port), unbracketed. */
function hostOf(address: string): string {
  try {
    return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`).hostname.replace(
      /^\[(.*)\]$/,
      '$1',
    );
  } catch {
    return address;
  }
}
