import type { ReleaseResult } from '../../common/sampling.ts';
import type { WorkerReport } from '../load/index.ts';
import type { FinishReason, OpenAIPassThrough, SamplingOptions, TokenLogprob } from '../serving.ts';

export type { ReleaseResult } from '../../common/sampling.ts';

/**
 * How the orchestrator talks to one worker, whatever the wire: a Tandem worker over gRPC
 * (tandem.v1.WorkerService) or a vLLM server over its OpenAI HTTP API. Token ids travel both
 * ways; nothing here tokenizes. Every failure is a TandemError (codes from common/errors.ts).
 *
 * Aggregated serving is `generate`. Disaggregated serving (issue 5) is `prefill` on one worker,
 * `decode` with the returned handoff on another, and `release` when the decode side will not
 * pull the blocks after all.
 */
export interface WorkerBackend {
  readonly kind: BackendKind;
  /** Where the worker is ("host:port" for gRPC, a URL for vLLM). */
  readonly address: string;
  /**
   * Prefill and decode on this worker. Yields chunks of newly sampled tokens; the last chunk
   * carries `finishReason` and `usage`. Aborting `signal` cancels the work on the worker (the
   * RPC is cancelled, the HTTP request closed) and the iteration rejects with the reason.
   */
  generate(call: GenerateCall, signal: AbortSignal): AsyncIterable<BackendChunk>;
  /** Prefill only: the first token and the handoff a decode worker pulls the prompt's KV with. */
  prefill(call: GenerateCall, signal: AbortSignal): Promise<BackendPrefillResult>;
  /** Decode after a remote prefill: pulls the missing KV described by `call.handoff`, then streams. */
  decode(call: DecodeCall, signal: AbortSignal): AsyncIterable<BackendChunk>;
  /** Lets the prefill side free the blocks it holds for a handoff. Idempotent. */
  release(handoff: KvHandoffTicket, signal?: AbortSignal): Promise<ReleaseResult>;
  /** What the worker says about itself now; rejects when it is unreachable or unhealthy. */
  status(signal: AbortSignal): Promise<WorkerStatusReport>;
  /** Closes connections; calls in flight fail. */
  close(): Promise<void>;
}

export type BackendKind = 'grpc' | 'vllm-http';

export interface GenerateCall {
  /** The request id (X-Request-Id), passed to the worker. */
  readonly requestId: string;
  /** The model name the worker serves (vllm-http sends it; gRPC workers take "" as their only model). */
  readonly model: string;
  readonly tokenIds: readonly number[];
  readonly sampling: SamplingOptions;
  /** Absolute deadline, Unix epoch ms; the worker gives up after it. */
  readonly deadlineUnixMs: number;
  /** Data-parallel rank to run on (vLLM's X-data-parallel-rank), or undefined to let the worker choose. */
  readonly dpRank?: number | undefined;
  /**
   * Fields merged into an HTTP request body (SGLang's bootstrap_host/port/room). Handoff
   * protocols only; the grpc backend refuses a call carrying any.
   */
  readonly extraBody?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The client's OpenAI request, for a backend that takes it as it is (`BACKEND_CAPABILITIES`):
   * then the body goes to the engine with only the served model name, `extraBody`, the usage
   * options Tandem needs and X-Request-Id added, and the engine's output comes back verbatim in
   * `BackendChunk.output`; `tokenIds` and `sampling` serve routing only. Token-level backends ignore it.
   */
  readonly openai?: OpenAIPassThrough | undefined;
}

export interface DecodeCall extends GenerateCall {
  readonly handoff: KvHandoffTicket;
  /** The first token, already sampled by the prefill worker; decoding continues after it. */
  readonly firstTokenId?: number | undefined;
  /** On a failed pull: recompute the prompt locally (default) or fail. */
  readonly loadFailurePolicy?: 'recompute' | 'fail';
}

export interface BackendUsage {
  readonly promptTokens: number;
  /** Prompt tokens served from the worker's own prefix cache. */
  readonly cachedPromptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens whose KV came from a prefill worker (disaggregated decode), with blocks and bytes. */
  readonly transferredPromptTokens?: number;
  readonly transferredBlocks?: number;
  readonly transferredBytes?: number;
  /** The decode side could not pull the prompt's KV and recomputed it (gRPC workers report it). */
  readonly kvRecomputed?: boolean;
}

export interface BackendChunk {
  /** Tokens sampled since the previous chunk, in order (may be empty on the last chunk). */
  readonly tokenIds: readonly number[];
  /**
   * Pass-through (a call with `openai`): the engine's own output since the previous chunk, for
   * the client as it is (SSE data payloads, or the whole JSON body of a non-streamed request),
   * and the completion tokens Tandem counts in it (`token_ids` when sent, else one per choice
   * delta with content; the final usage is exact).
   */
  readonly output?: { readonly data: readonly string[]; readonly tokens: number };
  /** Set on the last chunk only. */
  readonly finishReason?: FinishReason;
  /** Set on the last chunk only. */
  readonly usage?: BackendUsage;
  /** One per tokenIds entry when the request asked for logprobs (and the backend gives them). */
  readonly logprobs?: readonly TokenLogprob[] | undefined;
}

/**
 * What a decode worker needs to pull a prompt's KV. Opaque to the dispatcher: it carries the
 * ticket from `prefill` to `decode` (and `release`) of backends of the same kind.
 * - `tandem`: the gRPC KvHandoff message (remote engine and request ids, host, port, blocks).
 * - `nixl`: vLLM's `kv_transfer_params` object, verbatim from the prefill response.
 */
export type KvHandoffTicket =
  | { readonly kind: 'tandem'; readonly handoff: unknown; readonly remoteRequestId: string }
  | { readonly kind: 'nixl'; readonly params: Readonly<Record<string, unknown>> };

export interface BackendPrefillResult {
  /** Null for a pass-through prefill (the engine's text is not re-tokenized; the decode side streams the first token). */
  readonly firstTokenId: number | null;
  /** The first token's logprobs, when the request asked for them. */
  readonly firstTokenLogprob?: TokenLogprob | undefined;
  /** Set when the first token already ends the request; then `handoff` is null. */
  readonly finishReason: FinishReason | null;
  readonly usage: BackendUsage;
  readonly handoff: KvHandoffTicket | null;
}

export type AnnouncedRole = 'prefill' | 'decode' | 'both';

/** A KV-event publisher of the worker (one per data-parallel rank). */
export interface KvEventEndpoint {
  readonly endpoint: string;
  /** Replay ROUTER, or undefined when replay is off. */
  readonly replayEndpoint: string | undefined;
  readonly topic: string;
  readonly dpRank: number;
}

/** One data-parallel rank's load, as the worker reports it (any field may be missing). */
export interface RankLoad {
  readonly dpRank: number;
  readonly report: WorkerReport;
}

/**
 * A worker's self-description. Fields a backend cannot learn are null (a vLLM server does not
 * know its GPU); the discovery layer fills them from config.
 */
export interface WorkerStatusReport {
  /** Changes when the worker process restarts (then its cached blocks are gone). */
  readonly engineId: string | null;
  readonly role: AnnouncedRole | null;
  /** "sim", "reference", "vllm", ... */
  readonly engineKind: string;
  /** common/profiles names. */
  readonly gpu: string | null;
  readonly model: string | null;
  readonly tp: number | null;
  /** Tokens per KV block, or null when the worker did not say. */
  readonly blockSize: number | null;
  readonly maxModelLen: number | null;
  /** Model names the worker serves (vLLM's /v1/models), when known. */
  readonly servedModels: readonly string[];
  /** Announced KV-event publishers (empty: none announced; config may still name some). */
  readonly kvEventEndpoints: readonly KvEventEndpoint[];
  /** Load per data-parallel rank (rank 0 only for single-engine workers). */
  readonly load: readonly RankLoad[];
  /** What could not be read although the worker is up (e.g. its /metrics), for /debug/workers. */
  readonly warnings: readonly string[];
}
