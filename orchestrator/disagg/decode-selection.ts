import {
  forwardSeconds,
  kvBlockBytes,
  kvCapacityBlocks,
  transferSeconds,
  type EngineProfile,
} from '../../common/profiles/index.ts';
import { prefillSecondsPerToken, type CandidateReport } from '../routing/index.ts';
import type { DecodeCandidateReport, DecodeLoad, DecodeSelection, DecodeTerms, DisaggOptions } from './types.ts';

/**
 * Decode selection: which decode-capable worker takes a disaggregated request's decode. Pure.
 *
 * Dynamo picks the decode worker with the fewest active blocks; Tandem prices each candidate in
 * seconds and adds what peers leave out, the transfer: a decode worker pulls only the prompt
 * blocks missing from its own prefix cache (vLLM's NIXL connector and Tandem's engine alike), so
 * one that already holds part of the prompt needs less time on the link.
 *
 *   decode   = horizon x one decode step at (in-flight + 1) sequences over (active KV + prompt) tokens
 *   transfer = link setup + missing blocks x block bytes / (bandwidth x efficiency)
 *   queue    = prefill tokens queued on the worker x its seconds per prefill token
 *   total    = decode_weight x decode + transfer_weight x transfer + queue_weight x queue
 *
 * A candidate whose KV cache cannot take the request's blocks (active + needed > capacity) is
 * left out while another has room. Ties within `tieToleranceSeconds` go to `tieBreak`.
 *
 * A candidate is routing's report of the worker (its id, block size, eligibility and cached
 * prefix, as in `CandidateReport`) with its engine profile and load.
 */
export interface DecodeCandidateInput
  extends Pick<CandidateReport, 'id' | 'blockSize' | 'eligible' | 'excluded' | 'overlapBlocks'> {
  readonly profile: EngineProfile;
  /** `gpu/model/tpN`, for the report (the routing report's `profile`). */
  readonly profileLabel: string;
  readonly load: DecodeLoad;
  /** KV blocks the worker holds in all; default from its profile (kvCapacityBlocks). */
  readonly kvCapacityBlocks?: number | undefined;
}

export interface DecodeSelectionInput {
  readonly promptTokens: number;
  /** The request's max output tokens; caps the horizon and sizes its KV need. */
  readonly maxTokens: number;
  readonly candidates: readonly DecodeCandidateInput[];
  readonly options: Pick<
    DisaggOptions,
    'link' | 'decodeWeight' | 'transferWeight' | 'queueWeight' | 'decodeHorizonTokens' | 'tieToleranceSeconds'
  >;
  /** Picks among tied candidates (least recently chosen first); default the first. */
  readonly tieBreak?: (tied: readonly DecodeCandidateReport[]) => DecodeCandidateReport;
}

const capacityCache = new WeakMap<EngineProfile, Map<number, number>>();
function capacityOf(profile: EngineProfile, blockSize: number): number {
  let bySize = capacityCache.get(profile);
  if (!bySize) capacityCache.set(profile, (bySize = new Map()));
  let blocks = bySize.get(blockSize);
  if (blocks === undefined) bySize.set(blockSize, (blocks = kvCapacityBlocks(profile, blockSize)));
  return blocks;
}

/** Prices one candidate; `fits` says whether its KV cache has room for the request. */
export function priceDecodeCandidate(
  input: DecodeCandidateInput,
  promptTokens: number,
  maxTokens: number,
  options: DecodeSelectionInput['options'],
): { report: DecodeCandidateReport; fits: boolean } {
  const B = input.blockSize;
  const promptBlocks = Math.ceil(promptTokens / B);
  // The engine looks up its cache for whole blocks of the prompt only; the pull covers the rest.
  const cachedBlocks = Math.min(input.overlapBlocks, Math.floor(promptTokens / B));
  const pullBlocks = Math.max(0, promptBlocks - cachedBlocks);
  const pullBytes = pullBlocks * kvBlockBytes(input.profile.model, B);
  const horizon = Math.max(0, Math.min(maxTokens, options.decodeHorizonTokens));
  const load = input.load;
  const step = forwardSeconds(input.profile, {
    prefill: [],
    decodeSequences: load.inflightRequests + 1,
    decodeContextTokens: load.activeDecodeBlocks * B + promptTokens,
  });
  const decodeSeconds = horizon * step;
  const transfer = transferSeconds(options.link, pullBytes);
  const queueSeconds = load.queuedPrefillTokens * prefillSecondsPerToken(input.profile);
  const terms: DecodeTerms = {
    decodeSeconds,
    transferSeconds: transfer,
    queueSeconds,
    totalSeconds:
      options.decodeWeight * decodeSeconds + options.transferWeight * transfer + options.queueWeight * queueSeconds,
  };
  const capacity = input.kvCapacityBlocks ?? capacityOf(input.profile, B);
  const needed = Math.ceil((promptTokens + maxTokens) / B) - cachedBlocks;
  const fits = load.activeDecodeBlocks + needed <= capacity;
  return {
    fits,
    report: {
      id: input.id,
      profile: input.profileLabel,
      eligible: input.eligible,
      excluded: input.excluded,
      cachedBlocks,
      pullBlocks,
      pullBytes,
      activeKvBlocks: load.activeDecodeBlocks,
      kvCapacityBlocks: capacity,
      inflightRequests: load.inflightRequests,
      terms,
    },
  };
}

export function selectDecodeWorker(input: DecodeSelectionInput): DecodeSelection {
  const { promptTokens, maxTokens, options } = input;
  const priced = input.candidates.map((c) => priceDecodeCandidate(c, promptTokens, maxTokens, options));
  const routable = priced.filter((p) => p.report.eligible);
  const roomy = routable.filter((p) => p.fits);
  const full = roomy.length === 0 && routable.length > 0;
  const reports: DecodeCandidateReport[] = priced.map(({ report, fits }) =>
    report.eligible && !fits && !full
      ? {
          ...report,
          eligible: false,
          excluded: `KV cache full: ${report.activeKvBlocks} of ${report.kvCapacityBlocks} blocks active`,
        }
      : report,
  );
  const eligible = reports.filter((r) => r.eligible);
  if (eligible.length === 0) {
    const why =
      reports.length === 0
        ? 'no decode-capable worker'
        : `no eligible decode worker: ${[...new Set(reports.map((r) => r.excluded))].join('; ')}`;
    return { workerId: null, reason: why, candidates: reports };
  }
  let min = Number.POSITIVE_INFINITY;
  for (const r of eligible) min = Math.min(min, r.terms.totalSeconds);
  const tied = eligible.filter((r) => r.terms.totalSeconds <= min + options.tieToleranceSeconds);
  const chosen = tied.length === 1 || !input.tieBreak ? tied[0]! : input.tieBreak(tied);
  let reason = `lowest decode cost: ${describe(chosen)}`;
  if (tied.length > 1) reason += `; ${tied.length} workers tied, least recently chosen wins`;
  if (full) reason += '; every decode worker is short of KV blocks, so the engine will queue or preempt';
  return { workerId: chosen.id, reason, candidates: reports };
}

const s = (seconds: number) => `${(seconds * 1000).toFixed(1)} ms`;

function describe(r: DecodeCandidateReport): string {
  const t = r.terms;
  const transfer = `transfer ${s(t.transferSeconds)} of ${r.pullBlocks} blocks, ${r.cachedBlocks} already cached`;
  return `${r.id} at ${s(t.totalSeconds)} (decode ${s(t.decodeSeconds)} + ${transfer} + queue ${s(t.queueSeconds)})`;
}
