import { argminAll, type PolicyFactory } from '../policy.ts';

/** `least-loaded`: fewest requests in flight (booked, corrected by reports); ties spread. */
export const createLeastLoadedPolicy: PolicyFactory = () => ({
  name: 'least-loaded',
  choose({ eligible, tieBreak }) {
    for (const c of eligible) c.score = c.load.inflightRequests;
    const tied = argminAll(eligible, (c) => c.load.inflightRequests);
    const chosen = tieBreak(tied);
    return {
      chosen,
      reason: `least loaded: ${chosen.load.inflightRequests} requests in flight${tied.length > 1 ? ` (${tied.length} tied)` : ''}`,
    };
  },
});
