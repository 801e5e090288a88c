import type { Config } from '../common/config/index.ts';
import { fail, ok, toTandemError, type Result } from '../common/errors.ts';
import { linkProfile } from '../common/profiles/index.ts';
import { createPlanner, type Planner, type PlannerOptions } from './planner.ts';
import { resolvePools, type PlannedPool } from './pools.ts';
import { createPredictor } from './predict/index.ts';

/**
 * PlannerOptions from the validated config: pools priced, the link and predictor looked up.
 * Unknown profile, link or predictor names fail here with the known names.
 */
export function plannerOptionsFromConfig(config: Readonly<Config>): Result<PlannerOptions & { pools: PlannedPool[] }> {
  const section = config.planner;
  const pools = resolvePools(section);
  if (!pools.ok) return pools;
  const predictorOptions = {
    window: section.predictor.window,
    alpha: section.predictor.alpha,
    beta: section.predictor.beta,
    periodS: section.predictor.period_s,
    binS: section.predictor.bin_s,
    seasonAlpha: section.predictor.season_alpha,
  };
  try {
    createPredictor(section.predictor.kind, predictorOptions);
    return ok({
      pools: pools.value,
      slo: { ttftS: section.slo.ttft_s, itlS: section.slo.itl_s },
      ttftQuantile: section.slo.ttft_quantile,
      link: linkProfile(section.kv_link),
      handoffOverheadS: section.handoff_overhead_s,
      stallWeight: config.disaggregation.stall_weight,
      gpuBudget: section.gpu_budget,
      blockSize: config.routing.block_size,
      maxPrefillUtilization: section.targets.max_prefill_utilization,
      maxKvUsage: section.targets.max_kv_usage,
      predictor: section.predictor.kind,
      predictorOptions,
      stability: {
        scaleDownWindowMs: section.stability.scale_down_window_s * 1000,
        scaleDownHeadroom: section.stability.scale_down_headroom,
        thresholdDeadband: section.stability.threshold_deadband,
      },
    });
  } catch (error) {
    return fail(toTandemError(error, 'invalid_request'));
  }
}

export function createPlannerFromConfig(
  config: Readonly<Config>,
): Result<{ planner: Planner; options: PlannerOptions & { pools: PlannedPool[] } }> {
  const options = plannerOptionsFromConfig(config);
  if (!options.ok) return options;
  return ok({ planner: createPlanner(options.value), options: options.value });
}
