import type { PolicyFactory } from '../policy.ts';

/** `round-robin`: the eligible candidates in turn; the cursor moves when a decision is committed. */
export const createRoundRobinPolicy: PolicyFactory = () => {
  let cursor = 0;
  return {
    name: 'round-robin',
    choose({ eligible }) {
      const chosen = eligible[cursor % eligible.length]!;
      return { chosen, reason: `round robin: turn ${cursor} of ${eligible.length} eligible workers` };
    },
    committed() {
      cursor++;
    },
  };
};
