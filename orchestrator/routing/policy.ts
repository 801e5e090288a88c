import type { RoutingConfig } from '../../common/config/sections/routing.ts';
import type { Rng } from '../../common/rng.ts';
import type { CandidateReport } from './types.ts';

export type { RoutingConfig } from '../../common/config/sections/routing.ts';

/** What a policy decides from. Every figure is already computed; a policy only reads and picks. */
export interface PolicyInput {
  /** Candidates the policy may choose: healthy and not held back by the hotspot guard. Never empty. */
  readonly eligible: readonly CandidateReport[];
  /** Every candidate in the caller's order, eligible or not (for placements that must stay stable). */
  readonly all: readonly CandidateReport[];
  readonly promptTokens: number;
  readonly sessionKey: string | undefined;
  /** The router's seeded random source (a throwaway fork on dry runs). */
  readonly rng: Rng;
  /**
   * Picks one of several equally good candidates so bursts spread instead of piling onto the
   * first: among those with room for one more request (when the caller says, `RouteOptions.hasRoom`),
   * the least recently chosen, then a seeded random one among those never chosen.
   */
  readonly tieBreak: (tied: readonly CandidateReport[]) => CandidateReport;
}

export interface PolicyChoice {
  /** One of `input.eligible`. */
  readonly chosen: CandidateReport;
  /** Human-readable, for logs and /debug/route. */
  readonly reason: string;
}

/**
 * A routing policy: picks one eligible candidate and says why, writing its own figure into each
 * candidate's `score` (and `probability` when it samples). Contract: `choose` never returns a
 * candidate outside `eligible`, is deterministic given its input and its rng, and keeps no state
 * that `choose` alone changes (dry runs must not move anything): state such as a round-robin
 * cursor advances in `committed`, called when the router commits a decision of this policy.
 */
export interface RoutingPolicy {
  /** The registry name. */
  readonly name: string;
  choose(input: PolicyInput): PolicyChoice;
  committed?(workerId: string): void;
}

/** Builds a policy from the routing config section; one per router. */
export type PolicyFactory = (config: RoutingConfig) => RoutingPolicy;

/** Seconds with 3 significant decimals for reasons. */
export const seconds = (value: number): string => `${value < 10 ? value.toFixed(3) : value.toFixed(1)} s`;

/** The candidates with the least `key`, all of them when several share it. */
export function argminAll(
  candidates: readonly CandidateReport[],
  key: (c: CandidateReport) => number,
  tolerance = 0,
): CandidateReport[] {
  let best = Number.POSITIVE_INFINITY;
  for (const c of candidates) best = Math.min(best, key(c));
  return candidates.filter((c) => key(c) <= best + tolerance);
}
