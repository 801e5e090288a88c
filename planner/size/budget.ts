/** One pool as the GPU budget sees it. */
export interface BudgetedPool {
  readonly name: string;
  /** GPUs per replica. */
  readonly tp: number;
  readonly minReplicas: number;
  /** Replicas asked for (already within min/max). */
  readonly replicas: number;
  /** Fractional replicas the load needs; decides who gets a spare GPU first. */
  readonly demand: number;
}

export interface BudgetFit {
  readonly replicas: readonly number[];
  readonly reason: string | undefined;
}

/**
 * Fits the pools into `budgetGpus` (0 = no budget). Over budget, every pool's replicas above
 * its minimum shrink by one common factor (so the P:D ratio the load asked for survives), then
 * GPUs left over go one replica at a time to the pool whose demand is least covered. Minimums
 * are never broken: when they alone exceed the budget, the minimums are returned with a reason.
 */
export function fitToBudget(pools: readonly BudgetedPool[], budgetGpus: number): BudgetFit {
  const asked = pools.reduce((sum, pool) => sum + pool.replicas * pool.tp, 0);
  if (budgetGpus <= 0 || asked <= budgetGpus)
    return { replicas: pools.map((pool) => pool.replicas), reason: undefined };
  const floor = pools.reduce((sum, pool) => sum + pool.minReplicas * pool.tp, 0);
  if (floor >= budgetGpus) {
    return {
      replicas: pools.map((pool) => pool.minReplicas),
      reason: `GPU budget ${budgetGpus}: the pools' minimums alone hold ${floor} GPUs; running the minimums (the load asked for ${asked})`,
    };
  }
  const above = asked - floor;
  const factor = (budgetGpus - floor) / above;
  const replicas = pools.map((pool) => pool.minReplicas + Math.floor((pool.replicas - pool.minReplicas) * factor));
  let used = replicas.reduce((sum, count, i) => sum + count * pools[i]!.tp, 0);
  for (;;) {
    let best = -1;
    let bestCover = Infinity;
    pools.forEach((pool, i) => {
      const count = replicas[i]!;
      if (count >= pool.replicas || used + pool.tp > budgetGpus) return;
      const cover = count / Math.max(pool.demand, 1e-9);
      if (cover < bestCover) {
        bestCover = cover;
        best = i;
      }
    });
    if (best < 0) break;
    replicas[best]!++;
    used += pools[best]!.tp;
  }
  const list = pools.map((pool, i) => `${pool.name} ${pool.replicas} -> ${replicas[i]}`).join(', ');
  return {
    replicas,
    reason: `GPU budget ${budgetGpus}: the load asked for ${asked} GPUs; scaled down together (${list}), using ${used}`,
  };
}
