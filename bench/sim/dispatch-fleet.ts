import type { WorkerSpec } from '../../orchestrator/discovery/discovery.ts';
import type { Fleet as DispatchFleet, Placement } from '../../orchestrator/discovery/index.ts';
import type { WorkerHandle } from '../../orchestrator/discovery/worker-handle.ts';
import type { WorkerBackend } from '../../orchestrator/backends/index.ts';
import type { SimFleet, SimWorker } from './fleet.ts';

/**
 * The simulated fleet (fleet.ts) as the orchestrator's discovery SimFleet, which the real
 * dispatcher serves over: routable (`up`) workers are healthy candidates; every worker not gone
 * keeps a placement (its requests finish while it drains); a lease counts the worker's
 * `assigned` requests, which a draining worker must reach zero on before it leaves. Health,
 * status and KV events are the simulated fleet's (polled and delivered with latency there), so
 * `probe` and `publishLoad` do nothing; `changed()` tells the dispatcher (its admission queue)
 * that capacity may have changed: after every status delivery and fleet change.
 */
export interface SimDispatchFleet extends DispatchFleet {
  /** Capacity or candidates may have changed: wake the dispatcher's listeners. */
  changed(): void;
}

export function createSimDispatchFleet(
  fleet: SimFleet,
  backendOf: (worker: SimWorker) => WorkerBackend,
): SimDispatchFleet {
  const listeners = new Set<() => void>();
  const handles = new Map<string, WorkerHandle>();

  const handleOf = (worker: SimWorker): WorkerHandle => {
    let handle = handles.get(worker.id);
    if (handle) return handle;
    const spec: WorkerSpec = {
      name: worker.id,
      role: worker.role,
      backend: 'grpc',
      address: `sim:${worker.id}`,
      data_parallel_size: 1,
    };
    const backend = backendOf(worker);
    const tenants = [{ tenant: worker.id, dpRank: 0 }];
    handle = {
      name: worker.id,
      spec,
      backend,
      get state() {
        return worker.state === 'up' ? 'healthy' : 'retiring';
      },
      role: worker.role,
      profile: worker.profile,
      tenants,
      servedModel: undefined,
      get inflight() {
        return worker.assigned;
      },
      start() {},
      probe() {},
      lease() {
        worker.assigned++;
        let returned = false;
        return () => {
          if (returned) return;
          returned = true;
          worker.assigned--;
        };
      },
      retire: () => Promise.resolve(),
      snapshot: () => {
        throw new Error('the simulator has no worker snapshots');
      },
    };
    handles.set(worker.id, handle);
    return handle;
  };

  const self: SimDispatchFleet = {
    apply() {
      throw new Error('the simulated fleet changes through the planner loop, not discovery');
    },
    candidates: () => fleet.candidates(),
    notRouted: () => [],
    placement(tenant): Placement | undefined {
      const worker = fleet.find(tenant);
      if (!worker || worker.state === 'gone' || worker.state === 'starting') return undefined;
      return { worker: handleOf(worker), tenant, dpRank: 0 };
    },
    publishLoad() {},
    probe() {},
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    readiness() {
      const serving = fleet.candidates().some((c) => c.role !== 'prefill');
      return serving
        ? { ready: true, detail: 'simulated fleet' }
        : { ready: false, detail: 'no routable worker can decode' };
    },
    snapshot: () => [],
    get size() {
      return fleet.all.filter((w) => w.state !== 'gone').length;
    },
    close: () => Promise.resolve(),
    changed() {
      for (const listener of listeners) listener();
    },
  };
  return self;
}
