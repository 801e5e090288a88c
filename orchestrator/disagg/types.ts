import type { LinkProfile } from '../../common/profiles/index.ts';
import type { WorkerLoad } from '../load/index.ts';
import type { RoutingDecision } from '../routing/index.ts';

export type DisaggMode = 'auto' | 'always' | 'never';

/** What the decision needs from config (see `disaggOptionsFromConfig`). Seconds and tokens. */
export interface DisaggOptions {
  readonly mode: DisaggMode;
  /** `auto`: disaggregate when the best decode-capable worker's uncached prompt tokens exceed this. */
  readonly thresholdTokens: number;
  /**
   * `auto`: TTFT-seconds one second of stall on one decoding sequence counts for, when a local
   * prefill is weighed against a remote one (placement.ts).
   */
  readonly stallWeight: number;
  /** `auto`: the TTFT target a placement's expected TTFT is held to (planner.slo.ttft_s), seconds. */
  readonly ttftTargetSeconds: number;
  /** The link a decode worker pulls missing blocks over. */
  readonly link: LinkProfile;
  /** Weights of a decode candidate's terms. */
  readonly decodeWeight: number;
  readonly transferWeight: number;
  readonly queueWeight: number;
  /** Output tokens the decode-load term looks ahead (capped by the request's max tokens). */
  readonly decodeHorizonTokens: number;
  /** Totals within this many seconds of the cheapest count as a tie (spread, not "first"). */
  readonly tieToleranceSeconds: number;
}

/** The terms of one decode candidate, all seconds except where named. JSON-ready. */
export interface DecodeTerms {
  /** Decoding the horizon at the batch the worker would run with this request added. */
  readonly decodeSeconds: number;
  /** Pulling the prompt blocks missing from the worker's own prefix cache over the link. */
  readonly transferSeconds: number;
  /** Prefill already queued on the worker (aggregated requests), which its decode steps share. */
  readonly queueSeconds: number;
  /** decode_weight x decode + transfer_weight x transfer + queue_weight x queue. */
  readonly totalSeconds: number;
}

/** One decode-capable worker as decode selection saw it. */
export interface DecodeCandidateReport {
  readonly id: string;
  /** `gpu/model/tpN`. */
  readonly profile: string;
  /** Healthy, not held back by the hotspot guard, and the request's KV fits: it may be chosen. */
  readonly eligible: boolean;
  /** Why it may not be chosen, or null. */
  readonly excluded: string | null;
  /** Prompt blocks the worker already caches (per the index): the pull skips them. */
  readonly cachedBlocks: number;
  /** Blocks it would pull and their bytes. */
  readonly pullBlocks: number;
  readonly pullBytes: number;
  /** KV blocks in use on the worker (load book) and its capacity, blocks. */
  readonly activeKvBlocks: number;
  readonly kvCapacityBlocks: number;
  readonly inflightRequests: number;
  readonly terms: DecodeTerms;
}

/** Decode selection over the decode-capable pool: every candidate's terms and the choice. */
export interface DecodeSelection {
  readonly workerId: string | null;
  readonly reason: string;
  readonly candidates: readonly DecodeCandidateReport[];
}

/** The two placements of a prompt above the threshold, priced by `comparePlacements` (seconds). JSON-ready. */
export interface PlacementTerms {
  /** Wait + prefill on the decode-capable worker, in steps shared with its decode batch. */
  readonly localTtftSeconds: number;
  /** Extra wait per decoding sequence there while the prompt prefills, and how many decode. */
  readonly stallSeconds: number;
  readonly stalledSequences: number;
  /** localTtft + stall_weight x stall x stalled sequences. */
  readonly localCostSeconds: number;
  /** Wait + prefill on the prefill worker + KV transfer to the decode worker. */
  readonly remoteTtftSeconds: number;
  /** The TTFT target both were held to. */
  readonly ttftTargetSeconds: number;
  /** True: prefill remotely (only remote meets the target, or neither or both do and remote is cheaper). */
  readonly remote: boolean;
}

/**
 * What the disaggregation decision says and why; what `POST /debug/route` shows. Plain JSON:
 * the routing decisions embedded carry every candidate's overlap, load and cost terms.
 */
export interface DisaggDecision {
  readonly mode: DisaggMode;
  /** True: prefill on `prefillWorkerId`, then decode on `decodeWorkerId` with a KV handoff. */
  readonly disaggregate: boolean;
  /** Aggregated: the worker that prefills and decodes. Null when disaggregated or unroutable. */
  readonly workerId: string | null;
  readonly prefillWorkerId: string | null;
  readonly decodeWorkerId: string | null;
  /** One line: the rule that decided. */
  readonly reason: string;
  /** Every rule consulted, in order. */
  readonly reasons: readonly string[];
  readonly promptTokens: number;
  /** Tokens the best decode-capable worker would prefill (prompt minus its cached prefix); null without one. */
  readonly uncachedTokens: number | null;
  readonly thresholdTokens: number;
  /** Queued prefill on the least-queued eligible prefill worker, seconds; null without a prefill pool. */
  readonly prefillQueueSeconds: number | null;
  /** `auto` above the threshold: both placements priced; null when no comparison was made. */
  readonly placement: PlacementTerms | null;
  /** Routing over the decode-capable pool (the aggregated choice, and every decode candidate's overlap and load). */
  readonly aggregated: RoutingDecision | null;
  /** Routing over the prefill pool by KV overlap; null when none was needed or there is no prefill pool. */
  readonly prefill: RoutingDecision | null;
  /** Decode selection by load plus transfer; null when none was needed. */
  readonly decode: DecodeSelection | null;
  /** Clock time of the decision, ms. */
  readonly atMs: number;
}

/** What `commit` booked: hand each id back to the load book as the request progresses. */
export interface DisaggBookings {
  /** The aggregated worker's booking, or the prefill worker's when disaggregated. */
  readonly first: number;
  /** The decode worker's booking when disaggregated, else null. */
  readonly decode: number | null;
}

/** The load figures a decode candidate is priced from (a routing CandidateReport carries them). */
export type DecodeLoad = Pick<WorkerLoad, 'inflightRequests' | 'queuedPrefillTokens' | 'activeDecodeBlocks'>;
