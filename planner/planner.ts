import type { PlannedPool } from './pools.ts';
import { createPredictor, type Predictor, type PredictorOptions } from './predict/index.ts';
import { type SizingInput, sizePools } from './size/index.ts';
import {
  INITIAL_POOL_STABILITY,
  stabilizePool,
  stabilizeThreshold,
  type PoolStability,
  type StabilityOptions,
} from './stability/index.ts';
import type { Decision, LoadForecast, Observation, PoolDecision } from './types.ts';

/**
 * The planner's settings: the sizing inputs it hands to `sizePools` each interval (documented on
 * `SizingInput`), its pools with their Deployments, and how it predicts and steadies.
 */
export interface PlannerOptions extends Omit<SizingInput, 'load' | 'pools'> {
  readonly pools: readonly PlannedPool[];
  readonly predictor: string;
  readonly predictorOptions?: Partial<PredictorOptions>;
  readonly stability: StabilityOptions & { readonly thresholdDeadband: number };
}

/**
 * The planner's decision core: observations in, decisions out. No I/O and no clock of its own
 * (times come from the observations and from `decide`'s argument), so the live loop and the
 * cluster simulator drive the same object.
 */
export interface Planner {
  /** Feeds one interval's observation to the predictors. */
  observe(observation: Observation): void;
  /** Predicts the next interval, sizes the pools, applies the stability rules. */
  decide(nowMs: number): Decision;
  /** The last decision, if any. */
  last(): Decision | undefined;
}

export function createPlanner(options: PlannerOptions): Planner {
  const series = {
    requestRate: createPredictor(options.predictor, options.predictorOptions),
    islMean: createPredictor(options.predictor, options.predictorOptions),
    oslMean: createPredictor(options.predictor, options.predictorOptions),
    prefixHitRate: createPredictor(options.predictor, options.predictorOptions),
  } satisfies Record<keyof Omit<LoadForecast, 'isl'>, Predictor>;
  const stability = new Map<string, PoolStability>(options.pools.map((pool) => [pool.name, INITIAL_POOL_STABILITY]));
  let latest: Observation | undefined;
  let threshold: number | undefined;
  let lastDecision: Decision | undefined;

  function forecast(nowMs: number): LoadForecast {
    const predicted = (predictor: Predictor) => predictor.predict(nowMs) ?? 0;
    return {
      requestRate: Math.max(0, predicted(series.requestRate)),
      // An interval with no finished request says nothing about lengths: keep the last prediction.
      islMean: Math.max(0, predicted(series.islMean)),
      oslMean: Math.max(0, predicted(series.oslMean)),
      prefixHitRate: Math.min(1, Math.max(0, predicted(series.prefixHitRate))),
      isl: latest?.isl,
    };
  }

  return {
    observe(observation) {
      latest = observation;
      series.requestRate.observe(observation.requestRate, observation.atMs);
      if (observation.requestRate > 0 || series.islMean.predict(observation.atMs) === undefined) {
        series.islMean.observe(observation.islMean, observation.atMs);
        series.oslMean.observe(observation.oslMean, observation.atMs);
        series.prefixHitRate.observe(observation.prefixHitRate, observation.atMs);
      }
    },

    decide(nowMs) {
      const load = forecast(nowMs);
      const sizing = sizePools({ ...options, load });
      const reasons =
        latest === undefined ? ['no observation yet: sizing for zero load', ...sizing.reasons] : [...sizing.reasons];
      if (latest) reasons.push(...sloReport(latest, options.slo));

      const decided = options.pools.map((pool, i) => {
        const sized = sizing.pools[i]!;
        let state = stability.get(pool.name) ?? INITIAL_POOL_STABILITY;
        // A planner that (re)starts adopts the size the pool runs at, so a restart cannot shrink it at once.
        const running = latest?.pools?.[pool.name]?.replicas;
        if (state.current === undefined && running !== undefined && running > 0)
          state = { current: running, history: [{ atMs: nowMs, replicas: running }] };
        const step = stabilizePool(
          state,
          {
            atMs: nowMs,
            recommended: sized.recommended,
            demand: sized.demand,
            minReplicas: pool.minReplicas,
            maxReplicas: pool.maxReplicas,
          },
          options.stability,
        );
        return { pool, sized, state: step.state, replicas: step.replicas, reason: step.reason };
      });

      // Holding pools through the window may break the budget: release the held replicas first.
      if (options.gpuBudget > 0) {
        let used = decided.reduce((sum, entry) => sum + entry.replicas * entry.pool.tp, 0);
        for (const entry of decided) {
          while (used > options.gpuBudget && entry.replicas > entry.sized.recommended) {
            entry.replicas--;
            used -= entry.pool.tp;
            entry.reason = `${entry.reason ?? ''}${entry.reason ? '; ' : ''}released a held replica to stay within the GPU budget`;
          }
          entry.state = { ...entry.state, current: entry.replicas };
        }
      }
      for (const entry of decided) {
        stability.set(entry.pool.name, entry.state);
        if (entry.reason) reasons.push(`${entry.pool.name}: ${entry.reason}`);
      }

      const nextThreshold = stabilizeThreshold(threshold, sizing.threshold.tokens, options.stability.thresholdDeadband);
      if (threshold !== undefined && nextThreshold === threshold && sizing.threshold.tokens !== threshold) {
        reasons.push(
          `threshold held at ${threshold} tokens (${sizing.threshold.tokens} is within the ${(options.stability.thresholdDeadband * 100).toFixed(0)}% deadband)`,
        );
      }
      threshold = nextThreshold;

      const pools: PoolDecision[] = decided.map(({ pool, sized, replicas }) => ({
        name: pool.name,
        role: pool.role,
        gpu: pool.gpu,
        model: pool.model,
        tp: pool.tp,
        replicas,
        recommended: sized.recommended,
        demand: sized.demand,
        minReplicas: pool.minReplicas,
        maxReplicas: pool.maxReplicas,
      }));
      const total = (role: string) =>
        pools.filter((pool) => pool.role === role).reduce((sum, pool) => sum + pool.replicas, 0);
      lastDecision = {
        atMs: nowMs,
        pools,
        prefillReplicas: total('prefill'),
        decodeReplicas: total('decode'),
        gpus: pools.reduce((sum, pool) => sum + pool.replicas * pool.tp, 0),
        disaggregationThresholdTokens: threshold,
        predicted: load,
        observed: latest,
        reasons,
      };
      return lastDecision;
    },

    last: () => lastDecision,
  };
}

/** How the last interval did against the SLO, for the reasons (observations only; sizing uses the model). */
function sloReport(observation: Observation, slo: { ttftS: number; itlS: number }): string[] {
  const lines: string[] = [];
  const check = (name: string, observed: number | undefined, target: number, attainment: number | undefined) => {
    if (observed === undefined) return;
    const verdict = observed <= target ? 'meets' : 'MISSES';
    const share = attainment === undefined ? '' : `, ${(attainment * 100).toFixed(1)}% of requests within it`;
    lines.push(
      `observed ${name} p90 ${(observed * 1000).toFixed(1)} ms ${verdict} the ${(target * 1000).toFixed(0)} ms target${share}`,
    );
  };
  check('TTFT', observation.ttftP90S, slo.ttftS, observation.ttftAttainment);
  check('ITL', observation.itlP90S, slo.itlS, observation.itlAttainment);
  if (observation.queueDepth !== undefined && observation.queueDepth > 0)
    lines.push(`${observation.queueDepth} requests waiting in the admission queue`);
  return lines;
}
