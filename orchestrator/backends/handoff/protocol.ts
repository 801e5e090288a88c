import type { Logger } from '../../../common/log.ts';
import type { FinishReason, TokenLogprob } from '../../serving.ts';
import type { BackendKind, BackendUsage, GenerateCall, BackendChunk, WorkerBackend } from '../backend.ts';

/**
 * How a disaggregated request moves from its prefill worker to its decode worker: one interface,
 * one implementation per protocol, registered in `registry.ts`.
 *
 * | name | backend | prefill | decode |
 * |---|---|---|---|
 * | `tandem` | grpc | Prefill returns a KvHandoff | Decode takes it and `first_token_id` |
 * | `nixl` | vllm-http | `max_tokens: 1`, `do_remote_decode` | the original body + the prefill's `kv_transfer_params` |
 * | `p2p-nccl` | vllm-http | a `max_tokens: 1` copy, drained | the original body; both under one X-Request-Id naming both peers |
 * | `sglang` | vllm-http (OpenAI wire) | the body + bootstrap host/port/room, sent together with the decode | the same body |
 *
 * The dispatcher drives every protocol the same way (orchestrator/dispatch/disaggregated.ts):
 * `open`, `prefill()` (its first token goes to the client at once when the protocol hands it
 * over), `decode(peer)` (again on another decode worker if the first one fails before its first
 * token and the protocol allows it), and `release()` however the request ends.
 */
export type HandoffProtocolName = 'tandem' | 'nixl' | 'p2p-nccl' | 'sglang';

/** One side of a disaggregated request: the worker, and what the protocol needs to name it. */
export interface HandoffPeer {
  /** The routing tenant (`name` or `name@rank`), for logs and errors. */
  readonly name: string;
  readonly backend: WorkerBackend;
  /** The model name to send this worker. */
  readonly model: string;
  /** Data-parallel rank to pin (undefined: the worker chooses). */
  readonly dpRank: number | undefined;
  /** p2p-nccl: the engine's zmq_address ("ip:kv_port"), which request ids name. */
  readonly ncclAddress?: string | undefined;
  /** sglang: the prefill worker's bootstrap port; null sends none. */
  readonly bootstrapPort?: number | null | undefined;
}

/** The request as the client asked for it; each peer's model and rank are added per call. */
export type HandoffCall = Omit<GenerateCall, 'model' | 'dpRank' | 'extraBody'>;

export interface HandoffInput {
  readonly call: HandoffCall;
  readonly prefill: HandoffPeer;
  /** The decode worker chosen with the prefill (the one protocols sending both at once address). */
  readonly decode: HandoffPeer;
  /** Aborting it cancels whatever runs on either side. */
  readonly signal: AbortSignal;
}

export interface PrefillStep {
  /**
   * The first token, for the client at once (TTFT = the prefill). Null when the decode stream
   * carries it: SGLang, and vLLM-based flows of sampled (temperature > 0) requests, whose decode
   * side samples the first token again, possibly differently.
   */
  readonly firstTokenId: number | null;
  /** The first token's logprobs, when the request asked for them and the prefill worker gave them. */
  readonly firstTokenLogprob?: TokenLogprob | undefined;
  /** Set when the first token already ends the request: no decode follows. */
  readonly finishReason: FinishReason | null;
  /** The prefill worker's own usage (its prefix-cache hit is the request's). */
  readonly usage: BackendUsage;
  /** The decode stream starts with the first token again (vLLM's decode side resamples it): drop it. */
  readonly decodeRepeatsFirstToken: boolean;
  /** A decode that fails before its first token may be retried on another decode worker with the same handoff. */
  readonly decodeRetryable: boolean;
}

export interface HandoffSession {
  /** Runs the prefill (and, for protocols that send both at once, starts the decode). Rejects with a TandemError. */
  prefill(): Promise<PrefillStep>;
  /** The decode stream on `peer`: the opened decode worker, or another one when `decodeRetryable`. */
  decode(peer: HandoffPeer): AsyncIterable<BackendChunk>;
  /** Frees what the prefill side may still hold for the request. Idempotent; never rejects. */
  release(): Promise<void>;
}

export interface HandoffProtocol {
  readonly name: HandoffProtocolName;
  /** The backend kind both peers must have. */
  readonly backend: BackendKind;
  open(input: HandoffInput): HandoffSession;
}

/** What protocols get from the dispatcher. */
export interface HandoffDeps {
  readonly logger: Logger;
  /** `bytes` random bytes as lowercase hex (request ids and rooms must not collide across orchestrator replicas). */
  readonly randomHex: (bytes: number) => string;
}

/**
 * vLLM's decode side samples the first token again from the last prompt position. For a greedy
 * request that is the prefill's token, so it can go to the client at once and be dropped from
 * the decode stream; a sampled one may differ, so the decode stream's own is used.
 */
export function firstTokenIsReproducible(call: HandoffCall): boolean {
  return call.sampling.temperature === 0;
}

/** The peer's own fields of a call. */
export function callFor(call: HandoffCall, peer: HandoffPeer, extra: Partial<GenerateCall> = {}): GenerateCall {
  return { ...call, model: peer.model, dpRank: peer.dpRank, ...extra };
}
