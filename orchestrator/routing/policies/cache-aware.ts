import { argminAll, type PolicyFactory } from '../policy.ts';

/**
 * `cache-aware`, SGLang's router algorithm (PROTOCOLS.md 5.1) over the router's KV index
 * instead of a text tree: if in-flight loads are imbalanced (max - min > balance_abs_threshold
 * and max > min x balance_rel_threshold) take the least loaded; otherwise the worker with the
 * longest cached prefix if it covers more than cache_threshold of the prompt, else the worker
 * with the smallest cache (most free room). Unlike SGLang, ties are spread, not "first".
 */
export const createCacheAwarePolicy: PolicyFactory = (config) => {
  const { cache_threshold: threshold, balance_abs_threshold: abs, balance_rel_threshold: rel } = config.cache_aware;
  return {
    name: 'cache-aware',
    choose({ eligible, promptTokens, tieBreak }) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const c of eligible) {
        min = Math.min(min, c.load.inflightRequests);
        max = Math.max(max, c.load.inflightRequests);
      }
      if (max - min > abs && max > min * rel) {
        for (const c of eligible) c.score = c.load.inflightRequests;
        const chosen = tieBreak(argminAll(eligible, (c) => c.load.inflightRequests));
        return { chosen, reason: `loads imbalanced (${max} vs ${min} requests in flight): least loaded ${chosen.id}` };
      }
      for (const c of eligible)
        c.score = promptTokens > 0 ? Math.min(1, (c.overlapBlocks * c.blockSize) / promptTokens) : 0;
      const bestRate = Math.max(...eligible.map((c) => c.score ?? 0));
      if (bestRate > threshold) {
        const chosen = tieBreak(eligible.filter((c) => c.score === bestRate));
        return {
          chosen,
          reason: `prefix match ${(bestRate * 100).toFixed(0)}% > ${(threshold * 100).toFixed(0)}% on ${chosen.id}`,
        };
      }
      const chosen = tieBreak(argminAll(eligible, (c) => c.indexedBlocks));
      return {
        chosen,
        reason: `best prefix match ${(bestRate * 100).toFixed(0)}% <= ${(threshold * 100).toFixed(0)}%: ${chosen.id} has the smallest cache (${chosen.indexedBlocks} blocks)`,
      };
    },
  };
};
