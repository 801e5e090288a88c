import type { PolicyFactory } from '../policy.ts';

/**
 * `power-of-two`: two distinct eligible candidates drawn at random, the one with fewer requests
 * in flight (then fewer queued prefill tokens) wins; a full tie is spread.
 */
export const createPowerOfTwoPolicy: PolicyFactory = () => ({
  name: 'power-of-two',
  choose({ eligible, rng, tieBreak }) {
    if (eligible.length === 1) return { chosen: eligible[0]!, reason: 'only one eligible worker' };
    const i = rng.int(eligible.length);
    let j = rng.int(eligible.length - 1);
    if (j >= i) j++;
    const a = eligible[i]!;
    const b = eligible[j]!;
    a.score = a.load.inflightRequests;
    b.score = b.load.inflightRequests;
    const order =
      a.load.inflightRequests - b.load.inflightRequests || a.load.queuedPrefillTokens - b.load.queuedPrefillTokens;
    const chosen = order < 0 ? a : order > 0 ? b : tieBreak([a, b]);
    const other = chosen === a ? b : a;
    return {
      chosen,
      reason: `power of two: ${chosen.id} (${chosen.load.inflightRequests} in flight) over ${other.id} (${other.load.inflightRequests} in flight)`,
    };
  },
});
