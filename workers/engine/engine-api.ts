import type { FinishReason, ReleaseResult, SamplingParams, TokenLogprob } from '../../common/sampling.ts';
import type { UsageCounts } from '../../common/usage.ts';
import type { KvEventBatch } from '../../proto/kv-events/types.ts';

export type { FinishReason, ReleaseResult, SamplingParams, TokenLogprob } from '../../common/sampling.ts';

/**
 * The engine API: what a worker process (gRPC service, vLLM-compatible HTTP facade, metrics)
 * sits on, whichever engine is behind it. The simulated engine (workers/engine/sim-engine.ts)
 * implements it, and so does the reference engine (workers/reference/engine/). Plain data in,
 * plain data out: no protobuf, no HTTP.
 *
 * Contract:
 * - Units: tokens, blocks, bytes and clock milliseconds (the engine's injected Clock; Unix
 *   epoch ms on the real clock). Durations the engine models (forward passes, KV pulls) run
 *   `timeScale` times faster than modelled; timeouts (handoff expiry, deadlines) are plain
 *   clock time.
 * - Request ids are the caller's; two live requests may not share one (invalid_request).
 * - Invalid input is refused synchronously: `generate` and `decode` throw a TandemError
 *   (invalid_request, context_length_exceeded, kv_transfer_failed), `prefill` returns a
 *   rejected promise. After acceptance, a request ends exactly once: its stream yields a last
 *   chunk with `finishReason` set (or `prefill` settles).
 * - Cancelling (`abort(id)`, the call's AbortSignal, `stream.cancel()`, breaking out of a
 *   `for await`) frees the request's blocks at once; a stream then ends with finishReason
 *   "abort", a prefill rejects with `cancelled`. A request past its deadline ends the same way
 *   (a prefill rejects with `deadline_exceeded`).
 * - A prefill-only request holds its prompt's blocks under `handoff.handoffId` until
 *   `release(handoffId)` or `handoff.expiresAtMs`, whichever comes first; the blocks then stay
 *   in the prefix cache as ordinary evictable blocks. Nothing else ever holds blocks past the
 *   end of a request.
 * - KV events: every batch of vLLM KV-cache events (BlockStored, BlockRemoved, AllBlocksCleared)
 *   goes to every sink, in order, after the engine step that caused it.
 */
export interface Engine {
  readonly info: EngineInfo;
  /** Aggregated serving: prefill then decode here; tokens stream as steps complete. */
  generate(request: GenerateRequest, options?: CallOptions): TokenStream;
  /**
   * Prefill only: computes the prompt (reusing its cached prefix), samples the first token and
   * holds the prompt's blocks for a decode worker, unless that token already stops the request.
   */
  prefill(request: GenerateRequest, options?: CallOptions): Promise<PrefillResult>;
  /**
   * Decode after a remote prefill: reuses this engine's cached prefix of the prompt, pulls only
   * the missing blocks over the KV link (paying the link model's time), then decodes. When the
   * pull cannot happen (`pullAvailable: false`), recomputes the prompt locally or, with
   * loadFailurePolicy "fail", throws kv_transfer_failed. The caller releases the remote blocks
   * (ReleaseKv; idempotent).
   *
   * Engines whose pulls move bytes (handoff transport "tcp") may learn only mid-pull that it
   * fails: they then recompute, or under "fail" end the stream with finish "abort"; and they
   * notify the peer themselves once they no longer need its blocks (after the pull, or at once
   * when everything is cached locally or the request ends first).
   */
  decode(request: DecodeRequest, options?: CallOptions): TokenStream;
  /** Frees the blocks held for a remote decode. Idempotent: `found` is false the second time. */
  release(handoffId: string): ReleaseResult;
  /**
   * What is held for a remote decode under `handoffId`, leaving it held: the prefill side's
   * answer to a decode worker's pull (gRPC PullKv). Null when nothing is (released, expired or
   * never held).
   */
  heldKv(handoffId: string): HeldKv | null;
  /** Cancels a live request by id; false when there is none. */
  abort(requestId: string): boolean;
  /** vLLM's reset_prefix_cache: forgets every cached block (AllBlocksCleared); refused (false) while any block is in use. */
  resetPrefixCache(): boolean;
  status(): EngineStatus;
  /**
   * Debugging aid, optional: the hash of every block in the prefix cache (in use or evictable),
   * as the engine announced them in BlockStored and has not yet removed. A subscriber that
   * applied every KV event holds exactly this set once the engine is idle.
   */
  cachedBlockHashes?(): readonly bigint[];
  /** Subscribes a sink to KV-event batches; returns the unsubscribe function. */
  onKvEvents(sink: KvEventSink): () => void;
  /** Aborts every live request, stops stepping and cancels the engine's timers. */
  close(): Promise<void>;
}

export interface GenerateRequest {
  readonly requestId: string;
  readonly promptTokenIds: readonly number[];
  readonly sampling: SamplingParams;
  /** Absolute deadline on the engine's clock, ms; unset means none. */
  readonly deadlineMs?: number | undefined;
}

/** What a prefill engine hands a decode engine: vLLM NIXL kv_transfer_params, engine-neutral. */
export interface KvHandoff {
  /** The prefill engine (vLLM remote_engine_id). */
  readonly engineId: string;
  /** What `release` takes (vLLM remote_request_id). */
  readonly handoffId: string;
  /** Physical block ids on the prefill engine, in prompt order (vLLM remote_block_ids). */
  readonly blockIds: readonly number[];
  /** Tokens per block on the prefill engine. */
  readonly blockSize: number;
  /** Prompt tokens whose KV the blocks hold; the last block may be partial. */
  readonly numTokens: number;
  /** Bytes of one block's KV across all layers and TP ranks. */
  readonly blockBytes: number;
  readonly tpSize: number;
  /** When the prefill engine frees the blocks if nobody released them, clock ms. */
  readonly expiresAtMs: number;
  /**
   * How the decode side moves the blocks. Absent or "sim": no bytes move, the decode engine
   * charges its link model's time (the simulated engine). "tcp": a block server at host:port
   * serves them by id (the reference engine; workers/reference/transfer), and `layout` says
   * what one block holds. Maps onto tandem.v1.KvHandoff transport, host, port and layout.
   */
  readonly transport?: KvHandoffTransport;
  readonly host?: string;
  readonly port?: number;
  readonly layout?: KvBlockShape;
}

export type KvHandoffTransport = 'sim' | 'tcp';

/** What one KV block holds, for transports that move bytes (tandem.v1.KvLayout without block_bytes, which the handoff has). */
export interface KvBlockShape {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  /** "float32" for the reference engine. */
  readonly dtype: string;
}

export interface DecodeRequest extends GenerateRequest {
  readonly handoff: KvHandoff;
  /**
   * The first token, already sampled by the prefill engine and sent to the client: decoding
   * continues after it and the stream does not repeat it (it counts in completion tokens and
   * max_tokens). Unset: this engine samples the first token itself.
   */
  readonly firstTokenId?: number | undefined;
  /** What to do when the pull cannot happen; default "recompute" (vLLM's kv_load_failure_policy). */
  readonly loadFailurePolicy?: 'recompute' | 'fail';
  /** False when the caller knows the peer is gone or the handoff expired; default true. */
  readonly pullAvailable?: boolean;
  /** KV-link profile name for the pull (common/profiles/links.ts); default the engine's. */
  readonly link?: string | undefined;
}

export interface CallOptions {
  /** Aborting it cancels the request. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Called synchronously with every chunk as the step that produced it completes. For
   * in-process drivers (the cluster simulator) that avoid async iteration: when given, the
   * returned stream yields no chunks (nothing is buffered twice) and only ends; `result` still
   * settles.
   */
  readonly onChunk?: ((chunk: TokenChunk) => void) | undefined;
  /**
   * Prefill only: called synchronously as the prefill settles (with its result, or the error the
   * promise rejects with), just before the promise settles. For in-process drivers on a virtual
   * clock (the cluster simulator), which cannot wait for promise continuations between timers.
   * Optional for engines to support; the simulated engine does.
   */
  readonly onPrefillSettled?: ((outcome: PrefillOutcome) => void) | undefined;
}

/** How a prefill ended, as `CallOptions.onPrefillSettled` reports it. */
export type PrefillOutcome =
  | { readonly ok: true; readonly result: PrefillResult }
  | { readonly ok: false; readonly error: Error };

/** What a request used on this engine: the counts the wire carries, and its preemptions. */
export interface RequestUsage extends UsageCounts {
  /** Times the request lost its blocks to preemption and was recomputed. */
  readonly preemptions: number;
}

export interface TokenChunk {
  /** Tokens sampled since the previous chunk, in order (may be empty on the last chunk). */
  readonly tokenIds: readonly number[];
  /** Set on the last chunk only. */
  readonly finishReason: FinishReason | null;
  /** Set on the last chunk only. */
  readonly usage: RequestUsage | null;
  /** One per tokenIds entry when the request asked for logprobs; absent otherwise. */
  readonly logprobs?: readonly TokenLogprob[] | undefined;
}

/** A request's output. Iterate it once; leaving the loop early cancels the request. */
export interface TokenStream extends AsyncIterable<TokenChunk> {
  readonly requestId: string;
  /** Settles when the request ends, with its finish reason and usage. Never rejects. */
  readonly result: Promise<{ readonly finishReason: FinishReason; readonly usage: RequestUsage }>;
  cancel(): void;
}

export interface PrefillResult {
  readonly requestId: string;
  readonly firstTokenId: number;
  /** The first token's logprobs, when the request asked for them. */
  readonly firstTokenLogprob?: TokenLogprob | undefined;
  /**
   * "stop" when the first token ends the request (EOS or a stop id): nothing is held and
   * `handoff` is null. "length" when max_tokens is 1: the blocks are held all the same (vLLM's
   * NIXL prefill requests have max_tokens 1), so the caller releases them if no decode follows.
   * Null otherwise.
   */
  readonly finishReason: FinishReason | null;
  readonly usage: RequestUsage;
  readonly handoff: KvHandoff | null;
}

export interface HeldKv {
  readonly handoffId: string;
  readonly numBlocks: number;
  /** Prompt tokens whose KV the held blocks contain. */
  readonly numTokens: number;
  /** When the hold lapses, clock ms. */
  readonly expiresAtMs: number;
}

export interface EngineInfo {
  /** Unique per engine incarnation. */
  readonly engineId: string;
  /** "sim" or "reference". */
  readonly kind: string;
  /** Profile names as in common/profiles. */
  readonly gpu: string;
  readonly model: string;
  /** The served model id (Hugging Face id), which /v1/models reports. */
  readonly servedModelName: string;
  readonly tpSize: number;
  readonly blockSize: number;
  readonly totalBlocks: number;
  readonly maxModelLen: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly vocabSize: number;
  readonly prefixCaching: boolean;
  /** Bytes of one KV block (all layers, all TP ranks). */
  readonly blockBytes: number;
  readonly dataParallelRank: number;
  /** Clock ms at creation. */
  readonly startedAtMs: number;
}

export interface EngineStatus {
  readonly totalBlocks: number;
  /** Blocks referenced by running requests or held for a remote decode. */
  readonly usedBlocks: number;
  /** Blocks holding a cached prefix and referenced by nobody (evictable). */
  readonly cachedBlocks: number;
  /** Blocks held for remote decodes (a subset of usedBlocks). */
  readonly heldBlocks: number;
  /** Handoffs currently held. */
  readonly heldHandoffs: number;
  /** usedBlocks / totalBlocks, in [0, 1] (vllm:kv_cache_usage_perc). */
  readonly kvCacheUsage: number;
  readonly runningRequests: number;
  /** Requests not running: queued, preempted, or pulling KV from a prefill engine. */
  readonly waitingRequests: number;
  /**
   * Prompt tokens still to be prefilled, net of what the prefix cache held for each waiting
   * request when it was submitted (a pull's covered tokens for a decode): the work queued, tokens.
   */
  readonly queuedPrefillTokens: number;
  /** Prefix-cache lookups since start, tokens (vllm:prefix_cache_queries). */
  readonly prefixCacheQueriesTokens: number;
  /** Tokens those lookups found cached (vllm:prefix_cache_hits). */
  readonly prefixCacheHitsTokens: number;
  readonly promptTokensTotal: number;
  readonly generationTokensTotal: number;
  readonly preemptionsTotal: number;
  readonly finishedRequestsTotal: number;
  /** Forward passes since start. */
  readonly stepsTotal: number;
  /** Blocks and bytes pulled from prefill engines since start. */
  readonly pulledBlocksTotal: number;
  readonly pulledBytesTotal: number;
}

export type KvEventSink = (batch: KvEventBatch) => void;
