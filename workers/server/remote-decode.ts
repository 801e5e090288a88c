import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { Engine, GenerateRequest, KvHandoff, TokenChunk, TokenStream } from '../engine/engine-api.ts';
import type { KvPeers, PeerHold } from './kv-peers.ts';

/**
 * A decode after a remote prefill, the same for gRPC Decode and the HTTP facade's
 * `do_remote_prefill`, by the handoff's transport:
 * - SIM: ask the prefill worker whether it still holds the prompt's blocks (PullKv), let the
 *   engine pull what its own prefix cache lacks (paying the link's time) or recompute, and
 *   release the prefill side's hold (ReleaseKv) as soon as the pull is done, i.e. when the first
 *   token arrives, or when the request ends without one.
 * - TCP: the engine reads the blocks from the holder's block server itself and notifies it when
 *   done (no PullKv / ReleaseKv detour); a failed read recomputes (or fails) inside the engine.
 *   An engine that cannot pull over TCP treats the handoff as unusable.
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
  /** This engine pulls TCP handoffs itself (it has a block client: the reference engine). */
  readonly pullsTcp?: boolean;
  /** The first token, already sampled on the prefill side (gRPC); unset: sampled here (vLLM's NIXL flow). */
  readonly firstTokenId?: number | undefined;
  readonly loadFailurePolicy: 'recompute' | 'fail';
  readonly signal?: AbortSignal | undefined;
  readonly logger: Logger;
}

export interface RemoteDecode {
  /** The request's chunks; leaving the loop early cancels the request (and still releases the peer). */
  readonly chunks: AsyncIterable<TokenChunk>;
  /** Whether a pull was started (false: the prompt is recomputed here). A TCP pull may still fail and recompute inside the engine. */
  readonly pulled: boolean;
  /** The engine stream's result: settles when the request ends, never rejects. */
  readonly result: TokenStream['result'];
}

/** Asks the peer, then starts the engine's decode. Rejects with the engine's TandemError (bad input, kv_transfer_failed under policy "fail") or `cancelled`. */
export async function startRemoteDecode(input: RemoteDecodeInput): Promise<RemoteDecode> {
  const { engine, peers, peer, logger } = input;
  if (input.handoff.transport === 'tcp') return startTcpDecode(input);
  const answer =
    input.unusable === undefined
      ? await peers.pull(peer, input.signal)
      : { held: false as const, reason: 'unusable', detail: input.unusable };
  if (input.signal?.aborted)
    throw new TandemError('cancelled', 'the request was cancelled while asking the prefill worker for its KV');
  if (!answer.held) {
    logger.info(
      {
        requestId: input.request.requestId,
        peer: `${peer.host}:${peer.port}`,
        reason: answer.reason,
        detail: answer.detail,
        policy: input.loadFailurePolicy,
      },
      'KV pull unavailable',
    );
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

/** A TCP handoff: the engine pulls and notifies the holder itself; nothing here talks to the peer. */
function startTcpDecode(input: RemoteDecodeInput): RemoteDecode {
  const { engine, logger } = input;
  const unusable =
    input.unusable ?? (input.pullsTcp === true ? undefined : `this ${engine.info.kind} engine does not pull over TCP`);
  if (unusable !== undefined)
    logger.info(
      { requestId: input.request.requestId, detail: unusable, policy: input.loadFailurePolicy },
      'KV pull unavailable',
    );
  const stream = engine.decode(
    {
      ...input.request,
      handoff: input.handoff,
      firstTokenId: input.firstTokenId,
      loadFailurePolicy: input.loadFailurePolicy,
      pullAvailable: unusable === undefined,
    },
    { signal: input.signal },
  );
  return { chunks: stream, pulled: unusable === undefined, result: stream.result };
}
