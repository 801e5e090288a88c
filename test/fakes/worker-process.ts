import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLineSplitter } from '../../common/line-splitter.ts';
import { WorkerService } from '../../proto/gen/tandem/v1/worker_pb.ts';
import { createGrpcClient, type ServiceClient } from '../../proto/grpc/index.ts';

/**
 * Starts `tandem worker` as a real child process on loopback, every port 0, and reads back the
 * one ready line it prints. Tests keep what this returns in a `WorkerFleet` and stop the fleet
 * in `afterAll`, which kills anything still running even when a test failed.
 */

/** The worker's ready line (cli/commands/worker.ts). */
export interface ReadyLine {
  readonly event: 'tandem-worker-ready';
  readonly engine_id: string;
  readonly role: string;
  readonly grpc: string;
  readonly http: string;
  readonly kv_events: string | null;
  readonly replay: string | null;
  readonly topic: string;
  readonly pid: number;
}

export interface WorkerProcess {
  readonly ready: ReadyLine;
  readonly child: ChildProcess;
  /** A gRPC client to the worker (closed by the fleet). */
  readonly grpc: ServiceClient<typeof WorkerService>;
  /** Everything the worker wrote to stderr so far (its logs). */
  stderr(): string;
  /** Sends `signal` and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const TANDEM = new URL('../../bin/tandem.js', import.meta.url).pathname;
const START_TIMEOUT_MS = 45_000;

export interface WorkerFleet {
  start(args?: readonly string[]): Promise<WorkerProcess>;
  /** Stops every worker still running (SIGTERM, then SIGKILL after a grace period). */
  stopAll(): Promise<void>;
}

export function createWorkerFleet(): WorkerFleet {
  const running = new Set<WorkerProcess>();
  return {
    async start(args = []) {
      const worker = await startWorkerProcess(args);
      running.add(worker);
      worker.child.once('exit', () => running.delete(worker));
      return worker;
    },
    async stopAll() {
      await Promise.all([...running].map((worker) => worker.stop()));
    },
  };
}

export async function startWorkerProcess(args: readonly string[]): Promise<WorkerProcess> {
  const child = spawn(process.execPath, workerCommand(['--log-format', 'json', ...args]), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv(),
  });
  let stderr = '';
  child.stderr!.on('data', (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker did not start within ${START_TIMEOUT_MS} ms; stderr:\n${stderr}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on(
      'data',
      createLineSplitter((line) => {
        try {
          const parsed = JSON.parse(line) as Partial<ReadyLine>;
          if (parsed.event !== 'tandem-worker-ready') return;
          clearTimeout(timer);
          resolve(parsed as ReadyLine);
        } catch {
          // not the ready line
        }
      }),
    );
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before it was ready; stderr:\n${stderr}`));
    });
  });

  const grpc = createGrpcClient(WorkerService, ready.grpc);
  let stopping: Promise<number | null> | undefined;
  return {
    ready,
    child,
    grpc,
    stderr: () => stderr,
    stop(signal = 'SIGTERM') {
      stopping ??= (async () => {
        grpc.close();
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill(signal);
        const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
        if (code !== 'timeout') return code;
        child.kill('SIGKILL');
        return exited;
      })();
      return stopping;
    },
  };
}

/** Polls `read` until `done` holds of its value, or throws after `timeoutMs` with the last value. */
export async function waitFor<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; last value: ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    await sleep(50);
  }
}

/**
 * The arguments after `node` for `tandem worker` on loopback with every port picked free, then
 * `args`.
 */
export function workerCommand(args: readonly string[]): string[] {
  return [
    TANDEM,
    'worker',
    '--host',
    '127.0.0.1',
    '--grpc-port',
    '0',
    '--http-port',
    '0',
    '--kv-events-port',
    '0',
    '--replay-port',
    '0',
    ...args,
  ];
}

/** The test's environment without TANDEM_* settings (they could leak in from the shell), so only a child's flags and config file configure it. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('TANDEM_')) delete env[key];
  return env;
}
