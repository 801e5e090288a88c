import type { VirtualClock } from '../../common/clock.ts';
import { engineProfile, type EngineProfile } from '../../common/profiles/index.ts';
import type { KvEventBatch } from '../../proto/kv-events/types.ts';
import type { KvIndex } from '../../orchestrator/kv-index/index.ts';
import type { LoadBook } from '../../orchestrator/load/index.ts';
import type { Candidate, WorkerRole } from '../../orchestrator/routing/index.ts';
import { createSimEngine, type SimEngine, type SimEngineOptions } from '../../workers/engine/index.ts';
import type { SimLatencies } from './options.ts';

/**
 * The simulated fleet: real engines (workers/engine's `createSimEngine`) on one virtual clock,
 * wired to the routing core the way the live orchestrator is, with latency:
 *
 * - precise mode: every KV-event batch an engine publishes reaches `index.applyBatch` after
 *   `kvEventMs` (approximate mode: events are dropped; the index learns from decisions);
 * - every `statusIntervalMs` each worker's status is read and reaches `load.report` after
 *   `statusMs`, as GetStatus polling would;
 * - workers the planner adds are `starting` for `startupS` (paid for, not routable), then `up`;
 *   a worker being removed is `draining` (not routable) until it holds no request and no KV
 *   handoff, then `gone` (its engine closed, forgotten by the index and the load book).
 */
export type SimWorkerState = 'starting' | 'up' | 'draining' | 'gone';

export interface SimWorker {
  readonly id: string;
  readonly role: WorkerRole;
  readonly engine: SimEngine;
  readonly profile: EngineProfile;
  readonly candidate: Candidate;
  state: SimWorkerState;
  readonly createdAtMs: number;
  /** When it became routable (or will), ms. */
  upAtMs: number;
  goneAtMs: number | null;
  /** Requests (or request sides) the dispatcher has sent it and not yet seen end. */
  assigned: number;
}

export interface SimFleetOptions {
  readonly clock: VirtualClock;
  readonly index: KvIndex;
  readonly load: LoadBook;
  readonly latency: SimLatencies;
  /** Engine options shared by every worker (profile names, block size, link, limits). */
  readonly engine: SimEngineOptions;
  readonly gpu: string;
  readonly model: string;
  readonly tp: number;
  /**
   * Whether status reports carry the engine's queued prefill tokens (GetStatus does; a vLLM
   * server's metrics have no such figure, so the load book then keeps its own bookings).
   */
  readonly reportQueuedPrefill: boolean;
  /** Called whenever a worker changes state (the planner's replica series, the dispatcher's queue). */
  readonly onChange?: () => void;
  /** Called after each batch of status reports reaches the load book (capacity may have freed). */
  readonly onReports?: () => void;
}

export interface SimFleet {
  /** Every worker ever created, in creation order. */
  readonly all: readonly SimWorker[];
  get(id: string): SimWorker;
  /** The worker with that id, if it was ever created. */
  find(id: string): SimWorker | undefined;
  /** The routable workers as routing candidates (a new array only when the fleet changes). */
  candidates(): readonly Candidate[];
  /** Creates a worker; with `startupMs` > 0 it is `starting` until then. */
  add(role: WorkerRole, startupMs: number): SimWorker;
  /** Stops routing to a worker; it leaves once idle. A starting worker leaves at once. */
  drain(worker: SimWorker): void;
  /** A draining worker taken back into service (the planner changed its mind). */
  undrain(worker: SimWorker): void;
  /**
   * Polls status (reports to the load book after the status latency) and retires idle draining
   * workers; returns the statuses read, one per worker still serving, for the caller's figures.
   */
  poll(): readonly ReturnType<SimEngine['status']>[];
  /** Workers not gone, by state and role. */
  count(role: WorkerRole, states: readonly SimWorkerState[]): number;
  /** GPU-seconds so far: every worker not gone, from creation, x tp. */
  gpuSeconds(): number;
  /** KV bytes decode workers pulled, over every worker ever. */
  pulledBytes(): number;
  /** Closes every engine. */
  close(): void;
}

export function createSimFleet(options: SimFleetOptions): SimFleet {
  const { clock, index, load, latency } = options;
  const profile = engineProfile(options.gpu, options.model, options.tp);
  const all: SimWorker[] = [];
  const byId = new Map<string, SimWorker>();
  let cached: Candidate[] | null = null;
  const changed = () => {
    cached = null;
    options.onChange?.();
  };

  /**
   * KV-event batches in flight to the index, in send order. Every batch takes the same latency,
   * so delivery order is send order: one timer drains the queue's due head instead of a timer
   * per batch (two timers per engine step were a fifth of the event loop's work).
   */
  const inFlight: { at: number; worker: SimWorker; batch: KvEventBatch }[] = [];
  let head = 0;
  const drainEvents = () => {
    const now = clock.now();
    while (head < inFlight.length && inFlight[head]!.at <= now) {
      const { worker, batch } = inFlight[head]!;
      inFlight[head++] = undefined!;
      if (worker.state !== 'gone') index.applyBatch(worker.id, batch);
    }
    if (head === inFlight.length) {
      inFlight.length = 0;
      head = 0;
    } else {
      if (head > 4096) {
        inFlight.splice(0, head);
        head = 0;
      }
      clock.setTimer(inFlight[head]!.at - now, drainEvents);
    }
  };
  const deliverEvents = (worker: SimWorker, batch: KvEventBatch) => {
    inFlight.push({ at: clock.now() + latency.kvEventMs, worker, batch });
    if (inFlight.length - head === 1) clock.setTimer(latency.kvEventMs, drainEvents);
  };

  const retire = (worker: SimWorker) => {
    worker.state = 'gone';
    worker.goneAtMs = clock.now();
    void worker.engine.close();
    index.removeWorker(worker.id);
    load.removeWorker(worker.id);
    changed();
  };

  const fleet: SimFleet = {
    all,
    get(id) {
      const worker = byId.get(id);
      if (!worker) throw new Error(`no simulated worker ${id}`);
      return worker;
    },
    find: (id) => byId.get(id),
    candidates() {
      if (!cached) cached = all.filter((w) => w.state === 'up').map((w) => w.candidate);
      return cached;
    },
    add(role, startupMs) {
      const id = `${role === 'both' ? 'w' : role[0]}${all.length}`;
      const engine = createSimEngine({ ...options.engine, engineId: `sim-${id}` }, { clock });
      if (index.mode === 'precise') engine.onKvEvents((batch) => deliverEvents(worker, batch));
      const now = clock.now();
      const worker: SimWorker = {
        id,
        role,
        engine,
        profile,
        candidate: { id, role, profile, blockSize: engine.info.blockSize, healthy: true },
        state: startupMs > 0 ? 'starting' : 'up',
        createdAtMs: now,
        upAtMs: now + startupMs,
        goneAtMs: null,
        assigned: 0,
      };
      all.push(worker);
      byId.set(id, worker);
      index.registerWorker(id, { blockSize: engine.info.blockSize });
      if (startupMs > 0) {
        clock.setTimer(startupMs, () => {
          if (worker.state !== 'starting') return;
          worker.state = 'up';
          changed();
        });
      }
      changed();
      return worker;
    },
    drain(worker) {
      if (worker.state === 'starting') return retire(worker);
      if (worker.state !== 'up') return;
      worker.state = 'draining';
      changed();
    },
    undrain(worker) {
      if (worker.state !== 'draining') return;
      worker.state = 'up';
      changed();
    },
    poll() {
      const reports: [string, ReturnType<SimEngine['status']>][] = [];
      for (const worker of all) {
        if (worker.state === 'gone' || worker.state === 'starting') continue;
        const status = worker.engine.status();
        if (
          worker.state === 'draining' &&
          worker.assigned === 0 &&
          status.runningRequests + status.waitingRequests === 0 &&
          status.heldHandoffs === 0
        ) {
          retire(worker);
          continue;
        }
        reports.push([worker.id, status]);
      }
      if (reports.length === 0) return [];
      clock.setTimer(latency.statusMs, () => {
        const at = clock.now();
        for (const [id, status] of reports) {
          if (byId.get(id)!.state === 'gone') continue;
          load.report(
            id,
            {
              runningRequests: status.runningRequests,
              waitingRequests: status.waitingRequests,
              ...(options.reportQueuedPrefill ? { queuedPrefillTokens: status.queuedPrefillTokens } : {}),
              activeKvBlocks: status.usedBlocks,
            },
            at,
          );
        }
        options.onReports?.();
      });
      return reports.map(([, status]) => status);
    },
    count(role, states) {
      let n = 0;
      for (const w of all) if (w.role === role && states.includes(w.state)) n++;
      return n;
    },
    gpuSeconds() {
      const now = clock.now();
      let ms = 0;
      for (const w of all) ms += (w.goneAtMs ?? now) - w.createdAtMs;
      return (ms / 1000) * options.tp;
    },
    pulledBytes() {
      let bytes = 0;
      for (const w of all) bytes += w.engine.status().pulledBytesTotal;
      return bytes;
    },
    close() {
      for (const w of all) if (w.state !== 'gone') void w.engine.close();
    },
  };
  return fleet;
}
