import type { Decision } from '../types.ts';

/**
 * The latest decision, shared by the edges that publish it (/metrics for the HPA, the KEDA
 * scaler, /decision). The loop writes; the edges read or subscribe.
 */
export interface DecisionBoard {
  publish(decision: Decision): void;
  latest(): Decision | undefined;
  /** Replicas decided for `pool`, or undefined when no decision names it yet. */
  desired(pool: string): number | undefined;
  /** Calls `listener` after every publish; returns the unsubscribe function. */
  subscribe(listener: (decision: Decision) => void): () => void;
}

export function createDecisionBoard(): DecisionBoard {
  let current: Decision | undefined;
  const listeners = new Set<(decision: Decision) => void>();
  return {
    publish(decision) {
      current = decision;
      for (const listener of [...listeners]) listener(decision);
    },
    latest: () => current,
    desired: (pool) => current?.pools.find((entry) => entry.name === pool)?.replicas,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
