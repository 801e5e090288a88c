import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { Engine, GenerateRequest, KvHandoff, TokenChunk, TokenStream } from '../engine/engine-api.ts';
import type { KvPeers, PeerHold } from './kv-peers.ts';

/**
 * A decode after a remote prefill, the same for gRPC Decode and the HTTP facade's
 * `do_remote_prefill`: ask the prefill worker whether it still holds the prompt's blocks
 * (PullKv), let the engine pull what its own prefix cache lacks (paying the link's time) or
 * recompute, and release the prefill side's hold (ReleaseKv) as soon as the pull is done, i.e.
 * when the first token arrives, or when the request ends without one.
 */
export interface RemoteDecodeInput {
  readonly engine: Engine;
  readonly peers: KvPeers;
  readonly request: GenerateRequest;
  /** The engine's view of the handoff. */
  readonly handoff: KvHandoff;
  /** Where the hold lives. */
  readonly peer: PeerHold;
  /** Set when the handoff cannot be pulled whatever the peer says (wrong transport, block size, ...): recompute or fail at once. */
  readonly unusable?: string | undefined;
  /** The first token, already sampled on the prefill side (gRPC); unset: sampled here (vLLM's NIXL flow). */
  readonly firstTokenId?: number | undefined;
  readonly loadFailurePolicy: 'recompute' | 'fail';
  readonly signal?: AbortSignal | undefined;
  readonly logger: Logger;
}

export interface RemoteDecode {
  /** The request's chunks; leaving the loop early cancels the request (and still releases the peer). */
  readonly chunks: AsyncIterable<TokenChunk>;
  /** Whether the KV was pulled (false: the prompt is recomputed here). */
  readonly pulled: boolean;
  /** The engine stream's result: settles when the request ends, never rejects. */
  readonly result: TokenStream['result'];
}

/** Asks the peer, then starts the engine's decode. Rejects with the engine's TandemError (bad input, kv_transfer_failed under policy "fail") or `cancelled`. */
export async function startRemoteDecode(input: RemoteDecodeInput): Promise<RemoteDecode> {
  const { engine, peers, peer, logger } = input;
  const answer = input.unusable === undefined ? await peers.pull(peer, input.signal) : { held: false as const, reason: 'unusable', detail: input.unusable };
  if (input.signal?.aborted) throw new TandemError('cancelled', 'the request was cancelled while asking the prefill worker for its KV');
  if (!answer.held) {
    logger.info({ requestId: input.request.requestId, peer: `${peer.host}:${peer.port}`, reason: answer.reason, detail: answer.detail, policy: input.loadFailurePolicy }, 'KV pull unavailable');
  }
  // The peer's count is authoritative (vLLM's kv_transfer_params need not carry it).
  const handoff = answer.held ? { ...input.handoff, numTokens: answer.numTokens } : input.handoff;
  const stream = engine.decode(
    {
      ...input.request,
      handoff,
      firstTokenId: input.firstTokenId,
      loadFailurePolicy: input.loadFailurePolicy,
      pullAvailable: answer.held,
    },
    { signal: input.signal },
  );

  let released = !answer.held;
  const release = () => {
    if (released) return;
    released = true;
    void peers.release(peer);
  };
  async function* relay(): AsyncGenerator<TokenChunk> {
    try {
      for await (const chunk of stream) {
        // A token (or the end) means the engine's pull has completed.
        release();
        yield chunk;
      }
    } finally {
      release();
    }
  }
  return { chunks: relay(), pulled: answer.held, result: stream.result };
}
