import { seconds, type PolicyFactory, type RoutingPolicy } from '../policy.ts';
import type { CandidateReport } from '../types.ts';

/**
 * `kv` (the default): the lowest estimated cost in seconds, `prefill_weight x (queue + prefill)
 * + decode_weight x decode` (cost-model.ts), so a cached prefix wins unless the worker holding
 * it is busy enough to lose the saving, and mixed GPU pools compare fairly. Candidates within
 * `tie_tolerance_s` of the cheapest tie and are spread. With `temperature` T > 0 it samples
 * instead, `p ~ exp(-((cost - min) / (max - min)) / T)`, like Dynamo.
 */
export const createKvPolicy: PolicyFactory = (config) => {
  const { temperature, tie_tolerance_s: tolerance } = config.kv;
  const policy: RoutingPolicy = {
    name: 'kv',
    choose({ eligible, rng, tieBreak }) {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const c of eligible) {
        c.score = c.cost.totalSeconds;
        min = Math.min(min, c.score);
        max = Math.max(max, c.score);
      }
      if (temperature > 0 && max > min) {
        const weights = eligible.map((c) => Math.exp(-((c.cost.totalSeconds - min) / (max - min)) / temperature));
        const total = weights.reduce((a, b) => a + b, 0);
        let draw = rng.next() * total;
        let chosen = eligible[eligible.length - 1]!;
        eligible.forEach((c, i) => (c.probability = weights[i]! / total));
        for (let i = 0; i < eligible.length; i++) {
          draw -= weights[i]!;
          if (draw < 0) {
            chosen = eligible[i]!;
            break;
          }
        }
        return {
          chosen,
          reason: `sampled at temperature ${temperature} (p = ${chosen.probability!.toFixed(2)}): ${describe(chosen)}`,
        };
      }
      const tied = eligible.filter((c) => c.cost.totalSeconds <= min + tolerance);
      const chosen = tied.length === 1 ? tied[0]! : tieBreak(tied);
      let reason = `lowest estimated cost: ${describe(chosen)}`;
      if (tied.length > 1)
        reason += `; ${tied.length} workers tied within ${seconds(tolerance)}, least recently chosen wins`;
      let runnerUp: CandidateReport | undefined;
      for (const c of eligible) {
        if (c.cost.totalSeconds > min + tolerance && (!runnerUp || c.cost.totalSeconds < runnerUp.cost.totalSeconds))
          runnerUp = c;
      }
      if (runnerUp)
        reason += `; next best ${runnerUp.id} at ${seconds(runnerUp.cost.totalSeconds)} with ${runnerUp.overlapBlocks} blocks cached`;
      return { chosen, reason };
    },
  };
  return policy;
};

function describe(c: CandidateReport): string {
  const { queueSeconds, prefillSeconds, decodeSeconds, totalSeconds } = c.cost;
  return `${c.id} at ${seconds(totalSeconds)} (queue ${seconds(queueSeconds)} + prefill ${seconds(prefillSeconds)} + decode ${seconds(decodeSeconds)}) with ${c.overlapBlocks} blocks (${c.cachedTokens} tokens) cached`;
}
