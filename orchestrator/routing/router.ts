import type { Clock } from '../../common/clock.ts';
import { TandemError } from '../../common/errors.ts';
import type { EngineProfile } from '../../common/profiles/index.ts';
import type { Rng } from '../../common/rng.ts';
import { createBlockHasher, type BlockHashChain } from '../hashing/index.ts';
import type { KvIndex } from '../kv-index/index.ts';
import type { BookingId, LoadBook } from '../load/index.ts';
import { estimateCost, type CostInput, type CostWeights } from './cost-model.ts';
import { committableSeal, type Seal } from './decision-seal.ts';
import { hotspotExclusions, type GuardInput, type GuardOptions } from './guard.ts';
import type { RoutingPolicy } from './policy.ts';
import type { Candidate, CandidateReport, RouteRequest, RoutingDecision } from './types.ts';

export interface RouterOptions {
  readonly index: KvIndex;
  readonly load: LoadBook;
  readonly policy: RoutingPolicy;
  readonly clock: Clock;
  /** Seeded source of every random choice the router and its policy make. */
  readonly rng: Rng;
  /** Seed of the router's block hash; must be the index's. */
  readonly hashSeed: number;
  readonly guard: GuardOptions;
  readonly cost: CostWeights & {
    /** Output tokens the decode term looks ahead, capped by the request's maxTokens. */
    readonly decodeHorizonTokens: number;
  };
}

export interface RouteOptions {
  /** Decide without side effects on later decisions (`POST /debug/route`); cannot be committed. */
  readonly dryRun?: boolean;
  /**
   * Whether one more request fits on a worker now (the dispatcher's capacity check, given the
   * candidate's figures for this request). Ties go to workers with room before the least
   * recently chosen: equally cheap workers are not equal when one of them would make the request
   * wait at the door. Absent: every worker is taken to have room.
   */
  readonly hasRoom?: (candidate: CandidateReport) => boolean;
}

/**
 * The routing core's facade. `route` hashes the prompt (once per distinct block size, outside
 * the per-candidate loop), asks the index for each candidate's cached prefix, reads the load
 * book, computes the cost terms, applies the hotspot guard and asks the policy; the decision
 * reports every candidate's figures and the reason. `commit` books the load on the chosen
 * worker, advances the policy's and the tie-break's state, and (approximate mode) records the
 * prompt in the index. A decision that is never committed changes nothing but expiry.
 *
 * Seam for disaggregation (issue 5): call `route` with the prefill pool as candidates to pick a
 * prefill worker; decode selection reuses CandidateReport's overlap and load figures.
 */
export interface Router {
  readonly policy: string;
  route(request: RouteRequest, candidates: readonly Candidate[], options?: RouteOptions): RoutingDecision;
  /** Books the decision's worker; returns the booking to release through the load book. */
  commit(decision: RoutingDecision): BookingId;
}

interface Internal extends Seal {
  readonly chains: ReadonlyMap<number, BlockHashChain>;
  readonly chosen: CandidateReport | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const costInput: Mutable<CostInput> = {
  promptTokens: 0,
  cachedTokens: 0,
  queuedPrefillTokens: 0,
  inflightRequests: 0,
  activeDecodeBlocks: 0,
  blockSize: 0,
  horizonTokens: 0,
};
const guardView = (r: CandidateReport): GuardInput => ({
  healthy: r.healthy,
  inflightRequests: r.load.inflightRequests,
  cost: r.cost,
});
/** Where a decision keeps what commit() needs, out of JSON's sight. */
const INTERNAL = Symbol('routing.internal');
type Decided = RoutingDecision & { [INTERNAL]?: Internal };

const profileLabels = new WeakMap<EngineProfile, string>();
const profileLabel = (p: EngineProfile): string => {
  let label = profileLabels.get(p);
  if (!label) {
    label = `${p.gpu.name}/${p.model.name}/tp${p.tp}`;
    profileLabels.set(p, label);
  }
  return label;
};

export function createRouter(options: RouterOptions): Router {
  const { index, load, policy, clock, rng, guard, cost } = options;
  const hasher = createBlockHasher(options.hashSeed);
  /** Decisions are tagged with their router so commit() rejects another router's. */
  const owner = Symbol('router');
  /** Worker -> sequence number of its last committed choice (0: never). */
  const lastChosen = new Map<string, number>();
  let chosenSeq = 0;
  let overlapScratch = new Int32Array(64);

  const makeTieBreak =
    (random: Rng, hasRoom: RouteOptions['hasRoom']) =>
    (candidates: readonly CandidateReport[]): CandidateReport => {
      let tied = candidates;
      if (hasRoom && tied.length > 1) {
        const withRoom = tied.filter(hasRoom);
        if (withRoom.length > 0) tied = withRoom;
      }
      let oldest = Number.POSITIVE_INFINITY;
      for (const c of tied) oldest = Math.min(oldest, lastChosen.get(c.id) ?? 0);
      const least = tied.filter((c) => (lastChosen.get(c.id) ?? 0) === oldest);
      return least.length === 1 ? least[0]! : random.pick(least);
    };

  return {
    policy: policy.name,

    route(request, candidates, routeOptions = {}) {
      const dryRun = routeOptions.dryRun === true;
      const now = clock.now();
      index.expire(now);
      load.expire(now);
      const tokens = request.tokenIds;
      const promptTokens = tokens.length;

      // Hash once per distinct block size, then one index walk per size over its candidates.
      const chains = new Map<number, BlockHashChain>();
      const overlaps = new Int32Array(candidates.length);
      for (const c of candidates) {
        if (index.blockSizeOf(c.id) !== c.blockSize) index.registerWorker(c.id, { blockSize: c.blockSize });
        if (!chains.has(c.blockSize)) chains.set(c.blockSize, hasher.hashPrompt(tokens, c.blockSize, request.loraName));
      }
      for (const [blockSize, chain] of chains) {
        const positions: number[] = [];
        const ids: string[] = [];
        candidates.forEach((c, j) => {
          if (c.blockSize === blockSize) {
            positions.push(j);
            ids.push(c.id);
          }
        });
        if (overlapScratch.length < ids.length) overlapScratch = new Int32Array(ids.length * 2);
        const found = index.overlaps(chain, ids, overlapScratch);
        positions.forEach((j, k) => (overlaps[j] = found[k]!));
      }

      const horizon = Math.min(request.maxTokens ?? Number.POSITIVE_INFINITY, cost.decodeHorizonTokens);
      const reports: Mutable<CandidateReport>[] = new Array(candidates.length);
      for (let j = 0; j < candidates.length; j++) {
        const c = candidates[j]!;
        const figures = load.load(c.id, now);
        // At least the last prompt token is always computed, even on a full hit (as vLLM does).
        const cachedTokens = Math.max(0, Math.min(overlaps[j]! * c.blockSize, promptTokens - 1));
        costInput.promptTokens = promptTokens;
        costInput.cachedTokens = cachedTokens;
        costInput.queuedPrefillTokens = figures.queuedPrefillTokens;
        costInput.inflightRequests = figures.inflightRequests;
        costInput.activeDecodeBlocks = figures.activeDecodeBlocks;
        costInput.blockSize = c.blockSize;
        costInput.horizonTokens = horizon;
        reports[j] = {
          id: c.id,
          role: c.role,
          profile: profileLabel(c.profile),
          healthy: c.healthy,
          blockSize: c.blockSize,
          eligible: c.healthy,
          excluded: c.healthy ? null : 'unhealthy',
          overlapBlocks: overlaps[j]!,
          cachedTokens,
          newTokens: promptTokens - cachedTokens,
          indexedBlocks: index.indexedBlocks(c.id),
          load: figures,
          cost: estimateCost(c.profile, costInput, cost),
          score: null,
          probability: null,
          indexWarning: index.condition(c.id),
        };
      }
      const held = hotspotExclusions(reports.map(guardView), guard);
      for (let j = 0; j < reports.length; j++) {
        const reason = held[j];
        if (reason) {
          reports[j]!.eligible = false;
          reports[j]!.excluded = reason;
        }
      }
      const eligible = reports.filter((r) => r.eligible);

      let chosen: CandidateReport | null = null;
      let reason: string;
      if (candidates.length === 0) reason = 'no candidate workers';
      else if (eligible.length === 0)
        reason = `no eligible worker: ${[...new Set(reports.map((r) => r.excluded))].join('; ')}`;
      else {
        const random = dryRun ? rng.fork('dry-run') : rng;
        const choice = policy.choose({
          eligible,
          all: reports,
          promptTokens,
          sessionKey: request.sessionKey,
          rng: random,
          tieBreak: makeTieBreak(random, routeOptions.hasRoom),
        });
        if (!choice.chosen.eligible || !reports.includes(choice.chosen)) {
          throw new TandemError(
            'internal',
            `policy ${policy.name} chose ${choice.chosen.id}, which is not an eligible candidate`,
          );
        }
        chosen = choice.chosen;
        reason = choice.reason;
      }

      const decision: Decided = {
        workerId: chosen?.id ?? null,
        policy: policy.name,
        reason,
        requestId: request.requestId ?? null,
        promptTokens,
        atMs: now,
        candidates: reports,
        [INTERNAL]: { owner, chains, chosen, dryRun, committed: false },
      };
      return decision;
    },

    commit(decision) {
      const internal = committableSeal<Internal>(
        decision,
        INTERNAL,
        owner,
        'router',
        `decision for ${decision.workerId}`,
      );
      const chosen = internal.chosen;
      if (!chosen) throw new TandemError('unavailable', decision.reason, { retryAfterS: 1 });
      internal.committed = true;
      const now = clock.now();
      const booking = load.book(
        chosen.id,
        { prefillTokens: chosen.newTokens, decodeBlocks: Math.ceil(decision.promptTokens / chosen.blockSize) },
        now,
      );
      lastChosen.set(chosen.id, ++chosenSeq);
      policy.committed?.(chosen.id);
      index.recordRouted(chosen.id, internal.chains.get(chosen.blockSize)!, now);
      return booking;
    },
  };
}
