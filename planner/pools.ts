import type { PlannerSection } from '../common/config/sections/planner.ts';
import { fail, ok, TandemError, toTandemError, type Result } from '../common/errors.ts';
import { engineProfile } from '../common/profiles/index.ts';
import { createMeasuredPerf, createRooflinePerf, loadMeasuredProfile, type PoolSpec } from './size/index.ts';

/** A pool as the planner runs it: sizing's spec plus where it lives in Kubernetes and in metrics. */
export interface PlannedPool extends PoolSpec {
  /** The Deployment whose scale subresource direct mode patches. */
  readonly deployment: string;
  /** Workers whose name starts with this are this pool's; undefined: attribute by role. */
  readonly workerPrefix: string | undefined;
}

/** What a config with no pools means: one prefill and one decode pool of Qwen3-8B on H100. */
export const DEFAULT_POOLS: PlannerSection['pools'] = [
  { name: 'prefill', role: 'prefill', gpu: 'h100-sxm', model: 'qwen3-8b', tp: 1, min_replicas: 1, max_replicas: 64 },
  { name: 'decode', role: 'decode', gpu: 'h100-sxm', model: 'qwen3-8b', tp: 1, min_replicas: 1, max_replicas: 64 },
];

/**
 * Turns the config's pools into priced specs: the roofline model of common/profiles (as the
 * simulated engine uses) or a measured profile file. Unknown GPU/model names and unreadable
 * profile files fail here, at start-up, naming the pool.
 */
export function resolvePools(section: Pick<PlannerSection, 'pools'>): Result<PlannedPool[]> {
  const entries = section.pools.length > 0 ? section.pools : DEFAULT_POOLS;
  const pools: PlannedPool[] = [];
  for (const [index, entry] of entries.entries()) {
    let perf;
    try {
      perf = createRooflinePerf(engineProfile(entry.gpu, entry.model, entry.tp));
    } catch (error) {
      const cause = toTandemError(error, 'invalid_request');
      return fail(
        new TandemError('invalid_request', `planner.pools.${index} (${entry.name}): ${cause.message}`, { cause }),
      );
    }
    if (entry.profile_file !== undefined) {
      const measured = loadMeasuredProfile(entry.profile_file);
      if (!measured.ok) return measured;
      perf = createMeasuredPerf(measured.value, perf, `${entry.gpu} x ${entry.model}, tp ${entry.tp}`);
    }
    pools.push({
      name: entry.name,
      role: entry.role,
      gpu: entry.gpu,
      model: entry.model,
      tp: entry.tp,
      minReplicas: entry.min_replicas,
      maxReplicas: entry.max_replicas,
      perf,
      deployment: entry.deployment ?? `tandem-${entry.name}`,
      workerPrefix: entry.worker_prefix,
    });
  }
  return ok(pools);
}
