import type { PolicyFactory } from '../policy.ts';

/** `random`: uniform over the eligible candidates, from the router's seeded rng. */
export const createRandomPolicy: PolicyFactory = () => ({
  name: 'random',
  choose({ eligible, rng }) {
    const chosen = rng.pick(eligible);
    return { chosen, reason: `uniformly random among ${eligible.length} eligible workers` };
  },
});
