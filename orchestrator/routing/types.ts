import type { EngineProfile } from '../../common/profiles/index.ts';
import type { WorkerLoad } from '../load/index.ts';

export type WorkerRole = 'prefill' | 'decode' | 'both';

/** A worker a request may go to, as the caller (dispatcher, simulator) sees it now. */
export interface Candidate {
  /** Tenant id: the worker's name, or `name@rank` for a data-parallel rank (kv-index `tenantId`). */
  readonly id: string;
  readonly role: WorkerRole;
  /** GPU x model x TP: what turns tokens into seconds. */
  readonly profile: EngineProfile;
  /** Tokens per KV block of the worker's pool. */
  readonly blockSize: number;
  readonly healthy: boolean;
}

export interface RouteRequest {
  readonly requestId?: string | undefined;
  /** The prompt's token ids, integers in [0, 2^32). */
  readonly tokenIds: readonly number[];
  /** Affinity key for the `session` policy (a session header or the body's `user`). */
  readonly sessionKey?: string | undefined;
  /** Output tokens at most; caps the kv policy's decode horizon. */
  readonly maxTokens?: number | undefined;
  /** LoRA adapter name: its blocks live in their own hash namespace. */
  readonly loraName?: string | undefined;
}

/** The kv cost model's terms for one candidate, all in seconds (see cost-model.ts). */
export interface CostTerms {
  /** Prefill work already queued on the worker, ahead of this request. */
  readonly queueSeconds: number;
  /** Prefilling this request's uncached tokens on the worker (attention over the cached part included). */
  readonly prefillSeconds: number;
  /** Decoding the horizon at the batch the worker would run with this request added. */
  readonly decodeSeconds: number;
  /** prefill_weight x (queue + prefill) + decode_weight x decode. */
  readonly totalSeconds: number;
}

/** One candidate as a decision reports it (and as policies read it). JSON-ready. */
export interface CandidateReport {
  readonly id: string;
  readonly role: WorkerRole;
  /** `gpu/model/tpN`, e.g. "h100-sxm/qwen3-8b/tp1". */
  readonly profile: string;
  readonly healthy: boolean;
  readonly blockSize: number;
  /** Healthy and not held back by the hotspot guard: the policy may choose it. */
  readonly eligible: boolean;
  /** Why it may not be chosen, or null. */
  readonly excluded: string | null;
  /** Longest cached prefix on the worker per the index, blocks. */
  readonly overlapBlocks: number;
  /** Prompt tokens the worker would not recompute (at least one token is always computed). */
  readonly cachedTokens: number;
  /** Prompt tokens the worker would prefill. */
  readonly newTokens: number;
  /** Blocks the index holds for the worker. */
  readonly indexedBlocks: number;
  /** The load book's figures for the worker (corrected by its last fresh report), and the router's own bookings. */
  readonly load: WorkerLoad;
  readonly cost: CostTerms;
  /** The policy's own figure for the candidate (kv: cost seconds, cache-aware: match fraction, ...), or null. */
  score: number | null;
  /** Probability of being chosen when the policy samples (kv with temperature > 0), or null. */
  probability: number | null;
  /** A condition of the worker's index to know about (e.g. a block-size mismatch), or null. */
  readonly indexWarning: string | null;
}

/** What the router decided and why; exactly what `POST /debug/route` returns. */
export interface RoutingDecision {
  /** The chosen worker (tenant id), or null when no candidate was eligible. */
  readonly workerId: string | null;
  readonly policy: string;
  /** Human-readable: why this worker (or why none). */
  readonly reason: string;
  readonly requestId: string | null;
  readonly promptTokens: number;
  /** Clock time of the decision, ms. */
  readonly atMs: number;
  /** Every candidate, in the order given. */
  readonly candidates: readonly CandidateReport[];
}
