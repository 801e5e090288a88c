import type { WorkerEntry } from '../../common/config/sections/workers.ts';

/** A worker as discovery knows it: the `workers:` config entry (defaults filled in). */
export type WorkerSpec = WorkerEntry;

/**
 * Where the worker set comes from. The static discovery reads the config file (and is told
 * again on SIGHUP); a `kubernetes` discovery (pods by label selector through
 * @kubernetes/client-node, each ready pod one WorkerSpec) will implement the same interface.
 * Either way the fleet receives the whole current set and applies the difference.
 */
export interface WorkerDiscovery {
  readonly kind: string;
  /** Calls `onWorkers` with the whole current set now, and again whenever it changes. */
  start(onWorkers: (workers: readonly WorkerSpec[]) => void): Promise<void>;
  close(): Promise<void>;
}

export interface StaticDiscovery extends WorkerDiscovery {
  readonly kind: 'static';
  /** Replaces the set (the re-read config's `workers:`); listeners get it if anything changed. */
  update(workers: readonly WorkerSpec[]): void;
}

export function createStaticDiscovery(initial: readonly WorkerSpec[]): StaticDiscovery {
  let current = initial;
  let listener: ((workers: readonly WorkerSpec[]) => void) | undefined;
  return {
    kind: 'static',
    async start(onWorkers) {
      listener = onWorkers;
      onWorkers(current);
    },
    update(workers) {
      const changed = JSON.stringify(workers) !== JSON.stringify(current);
      current = workers;
      if (changed) listener?.(current);
    },
    async close() {
      listener = undefined;
    },
  };
}
