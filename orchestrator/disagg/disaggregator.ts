import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import { createBlockHasher } from '../hashing/index.ts';
import type { KvIndex } from '../kv-index/index.ts';
import type { LoadBook } from '../load/index.ts';
import {
  type Candidate,
  committableSeal,
  type RouteOptions,
  type RouteRequest,
  type Router,
  type RoutingDecision,
  type Seal,
} from '../routing/index.ts';
import { decideDisaggregation } from './decide.ts';
import { selectDecodeWorker, type DecodeCandidateInput } from './decode-selection.ts';
import { localPrefill, queuedPrefillSeconds } from './placement.ts';
import type { DecodeCandidateReport, DecodeSelection, DisaggBookings, DisaggDecision, DisaggOptions } from './types.ts';

/**
 * The disaggregation facade over a routing core: gathers what `decideDisaggregation` needs
 * (routing over the decode-capable pool, routing over the prefill pool, decode selection from
 * the same overlap and load figures) and books the outcome. No I/O; time from the injected clock.
 *
 * Pools by role: decode-capable = `decode` and `both`; prefill = `prefill` and `both`.
 *
 *   const decision = disagg.decide({ requestId, tokenIds, maxTokens }, candidates);
 *   const bookings = disagg.commit(decision);   // aggregated: one booking; disaggregated: prefill + decode
 *   // load.firstToken(bookings.first) when the prefill ends; load.release(...) each when its side ends.
 */
export interface Disaggregator {
  decide(
    request: RouteRequest,
    candidates: readonly Candidate[],
    /** As `Router.route`'s: a dry run, and which workers have room for the request (ties go to them). */
    options?: RouteOptions,
  ): DisaggDecision;
  /** Books the decision on the load book (and, approximate mode, the index); throws `unavailable` when nothing could serve. */
  commit(decision: DisaggDecision): DisaggBookings;
  /**
   * Decode selection alone, for a request whose prefill is done and whose decode worker failed
   * before its first token: the same pricing (load plus the transfer each candidate would need)
   * over the decode-capable workers of `candidates`. Sends and books nothing.
   */
  reselectDecode(request: RouteRequest, candidates: readonly Candidate[]): DecodeSelection;
  /** Books the decode side of `request` on `workerId`, as `commit` books the first choice; returns the booking. */
  commitDecode(request: RouteRequest, workerId: string, blockSize: number): number;
  /** The `auto` threshold in force, tokens. */
  readonly thresholdTokens: number;
  /** Retunes the `auto` threshold (the planner's recommendation). */
  setThresholdTokens(tokens: number): void;
}

export interface DisaggregatorDeps {
  readonly router: Router;
  readonly index: KvIndex;
  readonly load: LoadBook;
  readonly clock: Clock;
  /** The router's block-hash seed (routing.hash_seed), to record disaggregated decodes in approximate mode. */
  readonly hashSeed: number;
  readonly options: DisaggOptions;
}

interface Internal extends Seal {
  readonly request: RouteRequest;
}

const INTERNAL = Symbol('disagg.internal');
type Decided = DisaggDecision & { [INTERNAL]?: Internal };

export function createDisaggregator(deps: DisaggregatorDeps): Disaggregator {
  const { router, index, load, clock, options } = deps;
  const hasher = createBlockHasher(deps.hashSeed);
  const owner = Symbol('disaggregator');
  let thresholdTokens = options.thresholdTokens;
  /** Decode worker -> sequence number of its last committed choice (0: never), for tie-breaks. */
  const lastChosen = new Map<string, number>();
  let chosenSeq = 0;
  const tieBreak = (tied: readonly DecodeCandidateReport[]): DecodeCandidateReport => {
    let best = tied[0]!;
    for (const c of tied) if ((lastChosen.get(c.id) ?? 0) < (lastChosen.get(best.id) ?? 0)) best = c;
    return best;
  };

  const decodeInputs = (aggregated: RoutingDecision, byId: ReadonlyMap<string, Candidate>): DecodeCandidateInput[] =>
    aggregated.candidates.map((report) => {
      const candidate = byId.get(report.id)!;
      return {
        id: report.id,
        profile: candidate.profile,
        profileLabel: report.profile,
        blockSize: report.blockSize,
        eligible: report.eligible,
        excluded: report.excluded,
        overlapBlocks: report.overlapBlocks,
        load: report.load,
      };
    });

  const selectDecode = (
    request: RouteRequest,
    aggregated: RoutingDecision,
    byId: ReadonlyMap<string, Candidate>,
  ): DecodeSelection =>
    selectDecodeWorker({
      promptTokens: request.tokenIds.length,
      maxTokens: request.maxTokens ?? options.decodeHorizonTokens,
      candidates: decodeInputs(aggregated, byId),
      options,
      tieBreak,
    });
  const bookDecode = (request: RouteRequest, decodeId: string, blockSize: number): number => {
    const now = clock.now();
    const booking = load.book(
      decodeId,
      { prefillTokens: 0, decodeBlocks: Math.ceil(request.tokenIds.length / blockSize) },
      now,
    );
    lastChosen.set(decodeId, ++chosenSeq);
    // Approximate mode learns only from decisions: the decode worker will hold the prompt's blocks too.
    if (index.mode === 'approximate')
      index.recordRouted(decodeId, hasher.hashPrompt(request.tokenIds, blockSize, request.loraName), now);
    return booking;
  };

  return {
    reselectDecode(request, candidates) {
      const decodePool = candidates.filter((c) => c.role !== 'prefill');
      if (decodePool.length === 0) return { workerId: null, reason: 'no decode-capable worker left', candidates: [] };
      const aggregated = router.route(request, decodePool, { dryRun: true });
      return selectDecode(request, aggregated, new Map(decodePool.map((c) => [c.id, c])));
    },
    commitDecode: (request, workerId, blockSize) => bookDecode(request, workerId, blockSize),

    get thresholdTokens() {
      return thresholdTokens;
    },
    setThresholdTokens(tokens) {
      if (!Number.isFinite(tokens) || tokens < 0)
        throw new TandemError(
          'invalid_request',
          `disaggregation threshold must be a non-negative number of tokens, got ${tokens}`,
        );
      thresholdTokens = tokens;
    },

    decide(request, candidates, decideOptions = {}) {
      const dryRun = decideOptions.dryRun === true;
      const routeOptions: RouteOptions = { ...decideOptions, dryRun };
      const decodePool = candidates.filter((c) => c.role !== 'prefill');
      const prefillPool = candidates.filter((c) => c.role !== 'decode');
      const aggregated = decodePool.length > 0 ? router.route(request, decodePool, routeOptions) : null;
      const byId = new Map(decodePool.map((c) => [c.id, c]));
      const decision: Decided = decideDisaggregation({
        options: {
          mode: options.mode,
          thresholdTokens,
          stallWeight: options.stallWeight,
          ttftTargetSeconds: options.ttftTargetSeconds,
        },
        promptTokens: request.tokenIds.length,
        atMs: clock.now(),
        aggregated,
        prefill: () => (prefillPool.length > 0 ? router.route(request, prefillPool, routeOptions) : null),
        decode: () => (aggregated ? selectDecode(request, aggregated, byId) : null),
        local: () => {
          const report = aggregated!.candidates.find((c) => c.id === aggregated!.workerId)!;
          return localPrefill(byId.get(report.id)!.profile, {
            newTokens: report.newTokens,
            cachedTokens: report.cachedTokens,
            decodeSequences: report.load.inflightRequests,
            decodeContextTokens: report.load.activeDecodeBlocks * report.blockSize,
          });
        },
        // Asked only when rule 7 prices both placements: no per-request map of every candidate.
        waitSeconds: (report) => queuedPrefillSeconds(candidates.find((c) => c.id === report.id)!.profile, report.load),
      });
      decision[INTERNAL] = { owner, request, dryRun, committed: false };
      return decision;
    },

    commit(decision) {
      const internal = committableSeal<Internal>(decision, INTERNAL, owner, 'disaggregator');
      if (!decision.disaggregate) {
        if (!decision.aggregated || !decision.workerId)
          throw new TandemError('unavailable', decision.reason, { retryAfterS: 1 });
        internal.committed = true;
        return { first: router.commit(decision.aggregated), decode: null };
      }
      internal.committed = true;
      const first = router.commit(decision.prefill!);
      const decodeId = decision.decodeWorkerId!;
      const report = decision.aggregated!.candidates.find((c) => c.id === decodeId)!;
      return { first, decode: bookDecode(internal.request, decodeId, report.blockSize) };
    },
  };
}
