/**
 * Stability rules, pure: fast up, slow down, no flapping. State goes in and comes out; nothing
 * here reads a clock (times are arguments, clock milliseconds).
 */

export interface StabilityOptions {
  /** A pool shrinks only to the largest size its candidates named over this window, ms. */
  readonly scaleDownWindowMs: number;
  /** Shrinking stops where the remaining replicas would run above (1 - headroom) of capacity. */
  readonly scaleDownHeadroom: number;
}

export interface PoolStability {
  /** Replicas last decided; undefined before the first decision. */
  readonly current: number | undefined;
  /** Candidates of recent decisions, oldest first, within the window. */
  readonly history: readonly { readonly atMs: number; readonly replicas: number }[];
}

export const INITIAL_POOL_STABILITY: PoolStability = { current: undefined, history: [] };

export interface PoolStep {
  readonly atMs: number;
  /** Sizing's integer answer (already within min/max and the budget). */
  readonly recommended: number;
  /** Fractional replicas the load needs. */
  readonly demand: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

export interface PoolStepResult {
  readonly state: PoolStability;
  readonly replicas: number;
  readonly reason: string | undefined;
}

/**
 * One decision for one pool.
 * - Up: a recommendation above the current size is taken at once (within one interval).
 * - Down: the candidate is the smallest size whose replicas would carry the demand at no more
 *   than (1 - headroom) utilisation, never below the recommendation; the pool then shrinks only
 *   to the largest candidate seen within the window. A steady load whose demand wobbles around
 *   an integer therefore stays put: it scales up past n at demand > n, but back down to n only
 *   once demand <= n (1 - headroom).
 */
export function stabilizePool(state: PoolStability, step: PoolStep, options: StabilityOptions): PoolStepResult {
  const clamp = (value: number) => Math.min(step.maxReplicas, Math.max(step.minReplicas, value));
  const { atMs } = step;
  const recent = state.history.filter((entry) => entry.atMs > atMs - options.scaleDownWindowMs);
  if (state.current === undefined || step.recommended >= state.current) {
    const replicas = clamp(step.recommended);
    const reason =
      state.current !== undefined && replicas > state.current
        ? `scale up ${state.current} -> ${replicas} now`
        : undefined;
    return { state: { current: replicas, history: [...recent, { atMs, replicas }] }, replicas, reason };
  }
  const carried = Math.ceil(step.demand / (1 - options.scaleDownHeadroom) - 1e-9);
  const candidate = clamp(Math.min(state.current, Math.max(step.recommended, carried)));
  const history = [...recent, { atMs, replicas: candidate }];
  const held = Math.max(...history.map((entry) => entry.replicas));
  const replicas = clamp(Math.min(state.current, held));
  let reason: string | undefined;
  if (replicas < state.current)
    reason = `scale down ${state.current} -> ${replicas}: no larger size asked for within ${options.scaleDownWindowMs / 1000} s`;
  else if (candidate < state.current)
    reason = `hold ${state.current} (sizing asks ${step.recommended}): a larger size was asked for within the last ${options.scaleDownWindowMs / 1000} s`;
  else if (step.recommended < state.current)
    reason = `hold ${state.current} (sizing asks ${step.recommended}): ${step.recommended} replicas would run at ${((step.demand / Math.max(1, step.recommended)) * 100).toFixed(0)}% (> ${((1 - options.scaleDownHeadroom) * 100).toFixed(0)}% allowed for a scale-down)`;
  return { state: { current: replicas, history }, replicas, reason };
}

/** The threshold moves only when the new value differs from the current by more than `deadband` (a fraction). */
export function stabilizeThreshold(current: number | undefined, next: number, deadband: number): number {
  if (current === undefined || current === 0) return next;
  return Math.abs(next - current) / current > deadband ? next : current;
}
