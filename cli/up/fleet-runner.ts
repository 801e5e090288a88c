import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processCount } from '../../common/config/index.ts';
import { TandemError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { nextRestart, type BackoffPolicy } from './backoff.ts';
import { describeExit, lastWords, spawnManaged, type ManagedProcess } from './managed-process.ts';
import {
  orchestratorConfigFile,
  plannerConfigFile,
  workerConfigFile,
  type FleetPlan,
  type LaunchedWorker,
} from './plan.ts';

/**
 * The processes of `tandem up`, started in order (workers, then the orchestrator in front of
 * them, then the planner scraping it) and looked after: a process that exits on its own is
 * reported and restarted with backoff. A restarted worker binds new ports; the orchestrator's
 * config file is rewritten and the orchestrator sent SIGHUP, so it replaces the worker's entry
 * and routes to it again once its status is good. `stop()` ends the orchestrator and the planner
 * first (requests drain), then the workers, each process group with SIGTERM and SIGKILL after a
 * grace period.
 */
export interface UpFleet {
  /** Starts everything; rejects (after stopping what started) when a process cannot start. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL to every process group now (a second Ctrl-C; the exit handler). Synchronous. */
  killNow(): void;
  /** Every process running now, by name. */
  processes(): { name: string; pid: number; detail?: string }[];
  readonly stopping: boolean;
}

export interface UpFleetOptions {
  readonly plan: FleetPlan;
  /** Resolved ports: the orchestrator's, and the planner's (when it runs). */
  readonly port: number;
  readonly plannerPort: number | undefined;
  /** Where the processes' config files are written. */
  readonly dir: string;
  readonly logger: Logger;
  /** Every line a process prints. */
  readonly onLine: (line: string, proc: string) => void;
}

interface Slot {
  readonly name: string;
  current: ManagedProcess | undefined;
  /** Set once the process answered its readiness check. */
  ready: boolean;
  startedAtMs: number;
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
  launch(): Promise<void>;
  /** After a successful restart. */
  onRestarted?: () => void;
}

export function createUpFleet(options: UpFleetOptions): UpFleet {
  const { plan, logger, dir } = options;
  const up = plan.config.up;
  const startTimeoutMs = up.start_timeout_s * 1000;
  const backoff: BackoffPolicy = {
    baseMs: up.restart_backoff_s * 1000,
    maxMs: up.restart_backoff_max_s * 1000,
    resetMs: up.restart_reset_s * 1000,
  };
  const url = `http://127.0.0.1:${options.port}`;
  const plannerUrl = options.plannerPort === undefined ? undefined : `http://127.0.0.1:${options.plannerPort}`;
  const files = {
    worker: join(dir, 'worker.json'),
    orchestrator: join(dir, 'orchestrator.json'),
    planner: join(dir, 'planner.json'),
  };
  const workerAddresses = new Map<string, LaunchedWorker>();
  let stopping = false;

  const writeJson = (file: string, value: unknown) => {
    // Atomically: the orchestrator may re-read it (SIGHUP) at any moment.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  };
  const writeOrchestratorConfig = () =>
    writeJson(
      files.orchestrator,
      orchestratorConfigFile(plan, {
        port: options.port,
        workers: plan.workers.flatMap((w) => workerAddresses.get(w.name) ?? []),
        plannerUrl,
      }),
    );

  const spawn = (slot: Slot, args: readonly string[]) => {
    if (stopping) throw new TandemError('cancelled', 'tandem up is stopping');
    const proc = spawnManaged({ name: slot.name, args, onLine: options.onLine });
    slot.current = proc;
    slot.ready = false;
    slot.startedAtMs = Date.now();
    return proc;
  };

  /** Polls `path` on `base` until it answers 200; fails when `proc` exits first or time runs out. */
  const waitForHttp = async (proc: ManagedProcess, base: string, path: string) => {
    const until = Date.now() + startTimeoutMs;
    let exited = false;
    void proc.exited.then(() => (exited = true));
    for (;;) {
      if (exited || proc.hasExited) {
        const how = await proc.exited;
        throw new TandemError(
          'unavailable',
          `${proc.name} ${describeExit(how)} before it served ${base}${lastWords(proc.tail())}`,
        );
      }
      if (stopping) throw new TandemError('cancelled', 'tandem up is stopping');
      const answered = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(1000) }).then(
        (response) => response.status === 200,
        () => false,
      );
      if (answered) return;
      if (Date.now() > until)
        throw new TandemError(
          'deadline_exceeded',
          `${proc.name} did not answer ${base}${path} within ${up.start_timeout_s} s`,
        );
      await sleep(100);
    }
  };

  /** A slot for one supervised process: `start` spawns it (`spawn`) and resolves once it answers. */
  const newSlot = (name: string, start: (slot: Slot) => Promise<void>, onRestarted?: () => void): Slot => {
    const slot: Slot = {
      name,
      current: undefined,
      ready: false,
      startedAtMs: 0,
      crashes: 0,
      restartTimer: undefined,
      async launch() {
        await start(slot);
        slot.ready = true;
      },
      ...(onRestarted ? { onRestarted } : {}),
    };
    return slot;
  };

  const workerSlots: Slot[] = plan.workers.map((worker) =>
    newSlot(
      worker.name,
      async (slot) => {
        const proc = spawn(slot, ['worker', '--config', files.worker, ...worker.args]);
        const ready = await proc.waitForLine((line) => readyLine(line), startTimeoutMs, 'print its ready line');
        workerAddresses.set(worker.name, { name: worker.name, role: worker.role, grpc: ready.grpc });
      },
      () => {
        // New ports: tell the orchestrator (it replaces the entry and polls the new address).
        writeOrchestratorConfig();
        const orchestrator = orchestratorSlot.current;
        if (orchestrator && orchestratorSlot.ready && !orchestrator.hasExited) process.kill(orchestrator.pid, 'SIGHUP');
      },
    ),
  );

  /** orchestrator.processes as the orchestrator resolves it (`auto`: one per core). */
  const servingProcesses = () => processCount(plan.config.orchestrator);
  const orchestratorSlot = newSlot('orchestrator', async (slot) => {
    writeOrchestratorConfig();
    const proc = spawn(slot, ['orchestrator', '--config', files.orchestrator]);
    await waitForHttp(proc, url, '/health');
  });

  const plannerSlot =
    plannerUrl === undefined
      ? undefined
      : newSlot('planner', async (slot) => {
          writeJson(
            files.planner,
            plannerConfigFile(plan, { orchestratorUrl: url, plannerPort: options.plannerPort! }),
          );
          const proc = spawn(slot, ['planner', '--config', files.planner, '--dry-run']);
          await waitForHttp(proc, plannerUrl, '/healthz');
        });

  const allSlots = () => [...workerSlots, orchestratorSlot, ...(plannerSlot ? [plannerSlot] : [])];

  /** Restarts `slot` whenever its process exits while the fleet is not stopping. */
  const supervise = (slot: Slot) => {
    const proc = slot.current;
    if (!proc) return;
    void proc.exited.then((how) => {
      if (stopping || slot.current !== proc) return;
      const next = nextRestart(backoff, slot.crashes, Date.now() - slot.startedAtMs);
      slot.crashes = next.crashes;
      logger.warn(
        { child: slot.name, childPid: proc.pid, code: how.code, signal: how.signal, restartInS: next.delayMs / 1000 },
        `${slot.name} (pid ${proc.pid}) ${describeExit(how)}: restarting it in ${next.delayMs / 1000} s`,
      );
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (stopping) return;
        slot.launch().then(
          () => {
            const back = slot.current!;
            const grpc = workerAddresses.get(slot.name)?.grpc;
            logger.info(
              { child: slot.name, childPid: back.pid, ...(grpc ? { grpc } : {}) },
              `${slot.name} is back (pid ${back.pid})${grpc ? `, serving at ${grpc}: the orchestrator re-reads its worker list` : ''}`,
            );
            slot.onRestarted?.();
            supervise(slot);
          },
          (error: unknown) => {
            if (stopping) return;
            logger.error({ child: slot.name }, `${slot.name} did not come back: ${(error as Error).message}`);
            // Make sure the failed attempt is gone, then back off again through the same path.
            void slot.current?.stop(up.stop_grace_s * 1000);
            supervise(slot);
          },
        );
      }, next.delayMs);
    });
  };

  const stopSlots = (slots: readonly Slot[], graceMs: number) =>
    Promise.all(
      slots.map((slot) => {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        return slot.current?.stop(graceMs);
      }),
    );

  let stopped: Promise<void> | undefined;
  const fleet: UpFleet = {
    async start() {
      try {
        writeJson(files.worker, workerConfigFile(plan));
        await Promise.all(workerSlots.map((slot) => slot.launch()));
        await orchestratorSlot.launch();
        await plannerSlot?.launch();
      } catch (error) {
        await fleet.stop();
        throw error;
      }
      for (const slot of allSlots()) supervise(slot);
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const graceMs = up.stop_grace_s * 1000;
        // Running requests get the orchestrator's own drain period before its workers go.
        await stopSlots(
          [orchestratorSlot, ...(plannerSlot ? [plannerSlot] : [])],
          graceMs + plan.config.orchestrator.shutdown_grace_s * 1000,
        );
        await stopSlots(workerSlots, graceMs);
      })();
      return stopped;
    },
    killNow() {
      stopping = true;
      for (const slot of allSlots()) {
        if (slot.restartTimer) clearTimeout(slot.restartTimer);
        slot.current?.kill();
      }
    },
    processes() {
      return allSlots().flatMap((slot) => {
        const proc = slot.current;
        if (!proc || proc.hasExited) return [];
        const grpc = workerAddresses.get(slot.name)?.grpc;
        const serving = slot === orchestratorSlot ? servingProcesses() : 1;
        const detail = grpc ? `grpc ${grpc}` : serving > 1 ? `${serving} serving processes` : undefined;
        return [{ name: slot.name, pid: proc.pid, ...(detail ? { detail } : {}) }];
      });
    },
    get stopping() {
      return stopping;
    },
  };
  return fleet;
}

/** The worker's ready line (cli/commands/worker.ts), or undefined for any other line. */
function readyLine(line: string): { grpc: string } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as { event?: unknown; grpc?: unknown };
    return parsed.event === 'tandem-worker-ready' && typeof parsed.grpc === 'string'
      ? { grpc: parsed.grpc }
      : undefined;
  } catch {
    return undefined;
  }
}
